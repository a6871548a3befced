#ifndef ECHOD_TLS_H
#define ECHOD_TLS_H

#include <stddef.h>
#include <time.h>

/*
 * The TLS server context of echod (issue 19): one certificate and key pair
 * loaded under a fixed policy, shared by every TLS listener. TLS 1.2 at
 * least (1.3 preferred), forward-secret suites only (ECDHE for 1.2; every
 * 1.3 suite is), no renegotiation, no compression, session tickets on with
 * OpenSSL's own rotated ticket keys. OpenSSL types stay inside tls.c, so
 * only the daemon links libssl.
 *
 * Called by: the server (load at start and on reload) and the TLS
 * transport; calls: OpenSSL only.
 */

struct tls_context;

/* What a loaded certificate says, for echoctl status. */
struct tls_certificate_info {
        char subject[256];
        char sans[512]; /* "DNS:a, DNS:b, IP:..." or empty */
        time_t not_after;
};

/*
 * Loads the PEM certificate chain and key into a new context under the
 * policy above. A key file readable by group or other is refused (-EPERM),
 * as is a key that does not match the certificate (-EINVAL). On failure a
 * one-line reason is written into error (the caller logs it once).
 * Returns 0 or a negative errno.
 */
int tls_context_load(const char *certificate_path, const char *key_path,
                     struct tls_context **context, char *error, size_t error_size);

/* Fills info from the context's certificate. Returns 0 or -EINVAL. */
int tls_context_info(const struct tls_context *context, struct tls_certificate_info *info);

/* The OpenSSL SSL_CTX behind the context, as void * so callers need no OpenSSL header. */
void *tls_context_native(struct tls_context *context);

/* Frees the context (NULL is fine); connections made from it keep their own reference. */
void tls_context_free(struct tls_context *context);

#endif
