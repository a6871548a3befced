#include "auth.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

_Static_assert(AUTH_HASH_SIZE == crypto_pwhash_STRBYTES, "hash string size follows libsodium");
_Static_assert(AUTH_TOKEN_HASH_BYTES == crypto_generichash_BYTES, "token hash is BLAKE2b-256");

int auth_init(void)
{
        /* 1 means an earlier call already did it, which is fine. */
        return sodium_init() < 0 ? -EIO : 0;
}

struct auth_params auth_params_default(void)
{
        struct auth_params params = {AUTH_OPSLIMIT_MIN, AUTH_MEMLIMIT_MIN};

        return params;
}

int auth_params_check(const struct auth_params *params)
{
        if (params->opslimit < AUTH_OPSLIMIT_MIN || params->memlimit < AUTH_MEMLIMIT_MIN)
                return -EINVAL;
        if (params->opslimit > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
            params->memlimit > crypto_pwhash_argon2id_MEMLIMIT_MAX)
                return -EINVAL;
        return 0;
}

int auth_password_check(const char *password, size_t length)
{
        (void)password;
        if (length < AUTH_PASSWORD_MIN)
                return -EINVAL;
        if (length > AUTH_PASSWORD_MAX)
                return -EMSGSIZE;
        return 0;
}

int auth_password_hash(const struct auth_params *params, const char *password, size_t length,
                       char out[AUTH_HASH_SIZE])
{
        int r = auth_params_check(params);

        if (r < 0)
                return r;
        r = auth_password_check(password, length);
        if (r < 0)
                return -EINVAL;
        /* With cost and length checked, the only way left to fail is memory. */
        if (crypto_pwhash_str_alg(out, password, length, params->opslimit, params->memlimit,
                                  crypto_pwhash_ALG_ARGON2ID13) != 0)
                return -ENOMEM;
        return 0;
}

int auth_password_verify(const char *hash, const char *password, size_t length)
{
        /* A stored hash must end within its buffer; libsodium reads up to its NUL. */
        if (!memchr(hash, '\0', AUTH_HASH_SIZE) || length > AUTH_PASSWORD_MAX)
                return -EACCES;
        return crypto_pwhash_str_verify(hash, password, length) == 0 ? 0 : -EACCES;
}

int auth_password_needs_rehash(const struct auth_params *params, const char *hash)
{
        int r;

        if (!memchr(hash, '\0', AUTH_HASH_SIZE))
                return -EINVAL;
        /* An argon2i hash still verifies; a login moves it to argon2id. */
        if (strncmp(hash, crypto_pwhash_argon2i_STRPREFIX,
                    strlen(crypto_pwhash_argon2i_STRPREFIX)) == 0)
                return 1;
        if (strncmp(hash, crypto_pwhash_argon2id_STRPREFIX,
                    strlen(crypto_pwhash_argon2id_STRPREFIX)) != 0)
                return -EINVAL;
        r = crypto_pwhash_str_needs_rehash(hash, params->opslimit, params->memlimit);
        if (r < 0)
                return -EINVAL;
        return r;
}

void auth_token_generate(struct auth_token *token)
{
        randombytes_buf(token->bytes, sizeof(token->bytes));
}

void auth_token_format(const struct auth_token *token, char out[AUTH_TOKEN_TEXT_SIZE])
{
        /* sodium_bin2hex writes lowercase and runs in constant time. */
        sodium_bin2hex(out, AUTH_TOKEN_TEXT_SIZE, token->bytes, sizeof(token->bytes));
}

static int parse_hex(const char *text, size_t length, unsigned char *bytes, size_t size)
{
        size_t written = 0;

        if (length != 2 * size)
                return -EINVAL;
        /* Exactly one spelling per token: lowercase, no separators. */
        for (size_t i = 0; i < length; i++)
                if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
                        return -EINVAL;
        if (sodium_hex2bin(bytes, size, text, length, NULL, &written, NULL) != 0 || written != size)
                return -EINVAL;
        return 0;
}

int auth_token_parse(const char *text, size_t length, struct auth_token *token)
{
        return parse_hex(text, length, token->bytes, sizeof(token->bytes));
}

void auth_token_hash(const struct auth_token *token, struct auth_token_hash *hash)
{
        crypto_generichash(hash->bytes, sizeof(hash->bytes), token->bytes, sizeof(token->bytes),
                           NULL, 0);
}

void auth_token_hash_format(const struct auth_token_hash *hash, char out[AUTH_TOKEN_HASH_TEXT_SIZE])
{
        sodium_bin2hex(out, AUTH_TOKEN_HASH_TEXT_SIZE, hash->bytes, sizeof(hash->bytes));
}

int auth_token_hash_parse(const char *text, size_t length, struct auth_token_hash *hash)
{
        return parse_hex(text, length, hash->bytes, sizeof(hash->bytes));
}

bool auth_token_hash_equal(const struct auth_token_hash *a, const struct auth_token_hash *b)
{
        return sodium_memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}
