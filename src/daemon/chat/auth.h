#ifndef ECHOD_CHAT_AUTH_H
#define ECHOD_CHAT_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Passwords and session tokens, with libsodium.
 *
 * Passwords are stored as argon2id hash strings ("$argon2id$v=19$m=...").
 * Hashing costs tens of milliseconds and memlimit bytes of memory, so the
 * daemon calls auth_password_hash() and auth_password_verify() on a worker
 * thread (workers.h), never on the event loop. Every function here is safe
 * to call from any thread once auth_init() has returned.
 *
 * A session token is AUTH_TOKEN_BYTES random bytes, shown to the user as
 * AUTH_TOKEN_TEXT_LENGTH lowercase hex digits. Only its BLAKE2b-256 hash is
 * stored, also as lowercase hex; a stolen store does not give working tokens.
 */

#define AUTH_PASSWORD_MIN 8   /* bytes */
#define AUTH_PASSWORD_MAX 256 /* bytes */

/* An argon2id hash string and its NUL (libsodium's crypto_pwhash_STRBYTES). */
#define AUTH_HASH_SIZE 128

/* OWASP's minimum for argon2id: t = 2 passes over m = 19 MiB. */
#define AUTH_OPSLIMIT_MIN 2ull
#define AUTH_MEMLIMIT_MIN (19u * 1024 * 1024)

#define AUTH_TOKEN_BYTES       32
#define AUTH_TOKEN_TEXT_LENGTH (2 * AUTH_TOKEN_BYTES) /* lowercase hex */
#define AUTH_TOKEN_TEXT_SIZE   (AUTH_TOKEN_TEXT_LENGTH + 1)

#define AUTH_TOKEN_HASH_BYTES       32
#define AUTH_TOKEN_HASH_TEXT_LENGTH (2 * AUTH_TOKEN_HASH_BYTES) /* lowercase hex */
#define AUTH_TOKEN_HASH_TEXT_SIZE   (AUTH_TOKEN_HASH_TEXT_LENGTH + 1)

/* The cost of a new password hash. */
struct auth_params {
        unsigned long long opslimit; /* passes, >= AUTH_OPSLIMIT_MIN */
        size_t memlimit;             /* bytes, >= AUTH_MEMLIMIT_MIN */
};

struct auth_token {
        unsigned char bytes[AUTH_TOKEN_BYTES];
};

struct auth_token_hash {
        unsigned char bytes[AUTH_TOKEN_HASH_BYTES];
};

/* Initialise libsodium; call once before anything else here. Returns 0 or -EIO. */
int auth_init(void);

/* The default cost: OWASP's minimum (t = 2, m = 19 MiB). */
struct auth_params auth_params_default(void);

/* Check a cost: at or above OWASP's minimum and within libsodium's range. Returns 0 or -EINVAL. */
int auth_params_check(const struct auth_params *params);

/*
 * Check a new password's length. Returns 0, -EINVAL if shorter than
 * AUTH_PASSWORD_MIN, or -EMSGSIZE if longer than AUTH_PASSWORD_MAX.
 */
int auth_password_check(const char *password, size_t length);

/*
 * Hash a password into out (AUTH_HASH_SIZE bytes, NUL-terminated). Slow: run
 * it on a worker. Returns 0, -EINVAL for a bad cost or length, or -ENOMEM.
 */
int auth_password_hash(const struct auth_params *params, const char *password, size_t length,
                       char out[AUTH_HASH_SIZE]);

/*
 * Check a password against a stored hash string. Slow: run it on a worker.
 * Returns 0 on a match, -EACCES otherwise (a malformed hash also fails).
 */
int auth_password_verify(const char *hash, const char *password, size_t length);

/*
 * Whether a stored hash was made with a cost other than params (or with
 * argon2i), so a successful login should store a fresh hash. Returns 1, 0,
 * or -EINVAL for a malformed hash.
 */
int auth_password_needs_rehash(const struct auth_params *params, const char *hash);

/* Fill a token with fresh random bytes. */
void auth_token_generate(struct auth_token *token);

/* Write a token as lowercase hex and a NUL into out. */
void auth_token_format(const struct auth_token *token, char out[AUTH_TOKEN_TEXT_SIZE]);

/*
 * Read a token given by a user: exactly AUTH_TOKEN_TEXT_LENGTH lowercase hex
 * digits. Returns 0 or -EINVAL.
 */
int auth_token_parse(const char *text, size_t length, struct auth_token *token);

/* Hash a token for storage (BLAKE2b-256 of its raw bytes). */
void auth_token_hash(const struct auth_token *token, struct auth_token_hash *hash);

/* Write a token hash as lowercase hex and a NUL into out. */
void auth_token_hash_format(const struct auth_token_hash *hash,
                            char out[AUTH_TOKEN_HASH_TEXT_SIZE]);

/* Read a token hash from its stored hex form. Returns 0 or -EINVAL. */
int auth_token_hash_parse(const char *text, size_t length, struct auth_token_hash *hash);

/* Compare two token hashes in constant time. True if equal. */
bool auth_token_hash_equal(const struct auth_token_hash *a, const struct auth_token_hash *b);

#endif
