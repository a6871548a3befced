#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/*
 * TLS 1.2 suites with ephemeral ECDH key exchange and AEAD only: forward
 * secret. TLS 1.3's suites are all forward secret and keep OpenSSL's default.
 */
#define TLS_CIPHERS_12                                                                             \
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct tls_context {
        SSL_CTX *ssl_context;
};

static void set_error(char *error, size_t error_size, const char *what, const char *path)
{
        unsigned long code = ERR_peek_last_error();
        char reason[160] = "";

        if (code)
                ERR_error_string_n(code, reason, sizeof(reason));
        snprintf(error, error_size, "%s %s%s%s", what, path, code ? ": " : "", reason);
        ERR_clear_error();
}

/* The key must be readable by its owner only; checked on the opened file, not the name. */
static int check_key_mode(const char *key_path, char *error, size_t error_size)
{
        struct stat status;
        int fd = open(key_path, O_RDONLY | O_CLOEXEC);
        int rc = 0;

        if (fd < 0) {
                rc = -errno;
                snprintf(error, error_size, "cannot open TLS key %s: %s", key_path,
                         strerror(errno));
                return rc;
        }
        if (fstat(fd, &status) < 0) {
                rc = -errno;
                snprintf(error, error_size, "cannot stat TLS key %s: %s", key_path,
                         strerror(errno));
        } else if (status.st_mode & (S_IRWXG | S_IRWXO)) {
                rc = -EPERM;
                snprintf(error, error_size,
                         "TLS key %s is readable by group or other (mode %04o); "
                         "chmod 600 it or pass it with LoadCredential=",
                         key_path, (unsigned)(status.st_mode & 07777));
        }
        close(fd);
        return rc;
}

static int apply_policy(SSL_CTX *ssl_context)
{
        if (!SSL_CTX_set_min_proto_version(ssl_context, TLS1_2_VERSION))
                return -EINVAL;
        if (!SSL_CTX_set_cipher_list(ssl_context, TLS_CIPHERS_12))
                return -EINVAL;
        /* No renegotiation, no compression; the server's order of suites wins. */
        SSL_CTX_set_options(ssl_context, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                             SSL_OP_CIPHER_SERVER_PREFERENCE);
        /* Stateless resumption with OpenSSL's ticket keys; no server-side cache to grow. */
        SSL_CTX_clear_options(ssl_context, SSL_OP_NO_TICKET);
        SSL_CTX_set_session_cache_mode(ssl_context, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_session_id_context(ssl_context, (const unsigned char *)"echod", 5);
        /* The transport writes from its own queue, which may move between retries. */
        SSL_CTX_set_mode(ssl_context,
                         SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        SSL_CTX_set_mode(ssl_context, SSL_MODE_RELEASE_BUFFERS);
        return 0;
}

int tls_context_load(const char *certificate_path, const char *key_path,
                     struct tls_context **context, char *error, size_t error_size)
{
        struct tls_context *loaded = NULL;
        SSL_CTX *ssl_context = NULL;
        int rc;

        *context = NULL;
        rc = check_key_mode(key_path, error, error_size);
        if (rc < 0)
                return rc;
        ssl_context = SSL_CTX_new(TLS_server_method());
        if (!ssl_context) {
                set_error(error, error_size, "cannot create a TLS context for", certificate_path);
                return -ENOMEM;
        }
        if (apply_policy(ssl_context) < 0) {
                set_error(error, error_size, "cannot apply the TLS policy for", certificate_path);
                rc = -EINVAL;
                goto out;
        }
        if (SSL_CTX_use_certificate_chain_file(ssl_context, certificate_path) != 1) {
                set_error(error, error_size, "cannot load TLS certificate", certificate_path);
                rc = -EINVAL;
                goto out;
        }
        if (SSL_CTX_use_PrivateKey_file(ssl_context, key_path, SSL_FILETYPE_PEM) != 1) {
                /* OpenSSL checks the pair here already when the key parses. */
                if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
                        ERR_clear_error();
                        snprintf(error, error_size, "TLS key %s does not match certificate %s",
                                 key_path, certificate_path);
                        rc = -EINVAL;
                        goto out;
                }
                set_error(error, error_size, "cannot load TLS key", key_path);
                rc = -EINVAL;
                goto out;
        }
        if (SSL_CTX_check_private_key(ssl_context) != 1) {
                ERR_clear_error();
                snprintf(error, error_size, "TLS key %s does not match certificate %s", key_path,
                         certificate_path);
                rc = -EINVAL;
                goto out;
        }
        loaded = calloc(1, sizeof(*loaded));
        if (!loaded) {
                snprintf(error, error_size, "out of memory loading %s", certificate_path);
                rc = -ENOMEM;
                goto out;
        }
        loaded->ssl_context = ssl_context;
        ssl_context = NULL;
        *context = loaded;
        rc = 0;
out:
        SSL_CTX_free(ssl_context);
        return rc;
}

static void append_san(char *sans, size_t size, const char *kind, const char *value)
{
        size_t used = strlen(sans);

        snprintf(sans + used, size - used, "%s%s:%s", used ? ", " : "", kind, value);
}

static void collect_sans(X509 *certificate, char *sans, size_t size)
{
        GENERAL_NAMES *names = X509_get_ext_d2i(certificate, NID_subject_alt_name, NULL, NULL);
        char address[64];

        sans[0] = '\0';
        for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
                const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);

                if (name->type == GEN_DNS) {
                        append_san(sans, size, "DNS",
                                   (const char *)ASN1_STRING_get0_data(name->d.dNSName));
                } else if (name->type == GEN_IPADD) {
                        const unsigned char *bytes = ASN1_STRING_get0_data(name->d.iPAddress);
                        int length = ASN1_STRING_length(name->d.iPAddress);

                        int family = length == 4 ? AF_INET : length == 16 ? AF_INET6 : 0;

                        if (family && inet_ntop(family, bytes, address, sizeof(address)))
                                append_san(sans, size, "IP", address);
                }
        }
        GENERAL_NAMES_free(names);
}

int tls_context_info(const struct tls_context *context, struct tls_certificate_info *info)
{
        X509 *certificate = SSL_CTX_get0_certificate(context->ssl_context);
        struct tm expiry;

        memset(info, 0, sizeof(*info));
        if (!certificate)
                return -EINVAL;
        X509_NAME_oneline(X509_get_subject_name(certificate), info->subject, sizeof(info->subject));
        collect_sans(certificate, info->sans, sizeof(info->sans));
        if (ASN1_TIME_to_tm(X509_get0_notAfter(certificate), &expiry) != 1)
                return -EINVAL;
        info->not_after = timegm(&expiry);
        return 0;
}

void *tls_context_native(struct tls_context *context)
{
        return context->ssl_context;
}

void tls_context_free(struct tls_context *context)
{
        if (!context)
                return;
        SSL_CTX_free(context->ssl_context);
        free(context);
}
