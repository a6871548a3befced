#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "auth.h"

/*
 * The library refuses a cost below OWASP's minimum, so each hash here costs
 * about 55 ms; the tests hash only a few times.
 */

static int setup(void **state)
{
        (void)state;
        return auth_init();
}

static void hash_then_verify_accepts_the_password(void **state)
{
        struct auth_params params = auth_params_default();
        char hash[AUTH_HASH_SIZE];

        (void)state;
        assert_int_equal(auth_password_hash(&params, "correct horse", 13, hash), 0);
        assert_memory_equal(hash, "$argon2id$", 10);
        assert_non_null(strstr(hash, "m=19456,t=2,"));
        assert_int_equal(auth_password_verify(hash, "correct horse", 13), 0);
        assert_int_equal(auth_password_needs_rehash(&params, hash), 0);
}

static void verify_refuses_a_wrong_password(void **state)
{
        struct auth_params params = auth_params_default();
        char hash[AUTH_HASH_SIZE];

        (void)state;
        assert_int_equal(auth_password_hash(&params, "correct horse", 13, hash), 0);
        assert_int_equal(auth_password_verify(hash, "correct hors", 12), -EACCES);
        assert_int_equal(auth_password_verify(hash, "Correct horse", 13), -EACCES);
        assert_int_equal(auth_password_verify(hash, "", 0), -EACCES);
}

static void verify_refuses_a_malformed_hash(void **state)
{
        char unterminated[AUTH_HASH_SIZE];

        (void)state;
        assert_int_equal(auth_password_verify("$argon2id$v=19$garbage", "password", 8), -EACCES);
        assert_int_equal(auth_password_verify("", "password", 8), -EACCES);
        memset(unterminated, 'a', sizeof(unterminated));
        assert_int_equal(auth_password_verify(unterminated, "password", 8), -EACCES);
}

static void same_password_hashes_differently_each_time(void **state)
{
        struct auth_params params = auth_params_default();
        char first[AUTH_HASH_SIZE];
        char second[AUTH_HASH_SIZE];

        (void)state;
        assert_int_equal(auth_password_hash(&params, "password", 8, first), 0);
        assert_int_equal(auth_password_hash(&params, "password", 8, second), 0);
        /* A fresh salt each time, so equal passwords do not show in the store. */
        assert_string_not_equal(first, second);
}

static void needs_rehash_when_stored_cost_is_weaker(void **state)
{
        struct auth_params params = auth_params_default();
        struct auth_params stronger = {AUTH_OPSLIMIT_MIN + 1, AUTH_MEMLIMIT_MIN};
        char hash[AUTH_HASH_SIZE];
        char weak[AUTH_HASH_SIZE];

        (void)state;
        assert_int_equal(auth_password_hash(&params, "password", 8, hash), 0);
        assert_int_equal(auth_password_needs_rehash(&stronger, hash), 1);
        /* A hash made below the minimum (as an old release might have) is rehashed too. */
        assert_int_equal(
            crypto_pwhash_str_alg(weak, "password", 8, 1, 8192, crypto_pwhash_ALG_ARGON2ID13), 0);
        assert_int_equal(auth_password_verify(weak, "password", 8), 0);
        assert_int_equal(auth_password_needs_rehash(&params, weak), 1);
        /* And so is an argon2i hash. */
        assert_int_equal(
            crypto_pwhash_str_alg(weak, "password", 8, 3, 8192, crypto_pwhash_ALG_ARGON2I13), 0);
        assert_int_equal(auth_password_needs_rehash(&params, weak), 1);
        assert_int_equal(auth_password_needs_rehash(&params, "not a hash"), -EINVAL);
}

static void cost_below_owasp_minimum_is_refused(void **state)
{
        struct auth_params few_passes = {1, AUTH_MEMLIMIT_MIN};
        struct auth_params little_memory = {AUTH_OPSLIMIT_MIN, AUTH_MEMLIMIT_MIN - 1};
        char hash[AUTH_HASH_SIZE];

        (void)state;
        assert_int_equal(auth_params_check(&few_passes), -EINVAL);
        assert_int_equal(auth_params_check(&little_memory), -EINVAL);
        assert_int_equal(auth_password_hash(&few_passes, "password", 8, hash), -EINVAL);
        assert_int_equal(auth_password_hash(&little_memory, "password", 8, hash), -EINVAL);
}

static void password_length_limits(void **state)
{
        struct auth_params params = auth_params_default();
        char longest[AUTH_PASSWORD_MAX + 1];
        char hash[AUTH_HASH_SIZE];

        (void)state;
        memset(longest, 'p', sizeof(longest));
        assert_int_equal(auth_password_check("1234567", 7), -EINVAL);
        assert_int_equal(auth_password_check("12345678", 8), 0);
        assert_int_equal(auth_password_check(longest, AUTH_PASSWORD_MAX), 0);
        assert_int_equal(auth_password_check(longest, AUTH_PASSWORD_MAX + 1), -EMSGSIZE);
        assert_int_equal(auth_password_hash(&params, "1234567", 7, hash), -EINVAL);
        assert_int_equal(auth_password_hash(&params, longest, AUTH_PASSWORD_MAX + 1, hash),
                         -EINVAL);
}

static void token_round_trips_through_its_text(void **state)
{
        struct auth_token token, parsed;
        struct auth_token_hash hash, again, from_text;
        char text[AUTH_TOKEN_TEXT_SIZE];
        char hash_text[AUTH_TOKEN_HASH_TEXT_SIZE];

        (void)state;
        auth_token_generate(&token);
        auth_token_format(&token, text);
        assert_int_equal(strlen(text), 64);
        for (size_t i = 0; i < 64; i++)
                assert_non_null(strchr("0123456789abcdef", text[i]));
        assert_int_equal(auth_token_parse(text, strlen(text), &parsed), 0);
        assert_memory_equal(parsed.bytes, token.bytes, AUTH_TOKEN_BYTES);

        auth_token_hash(&token, &hash);
        auth_token_hash(&parsed, &again);
        assert_true(auth_token_hash_equal(&hash, &again));
        auth_token_hash_format(&hash, hash_text);
        assert_int_equal(strlen(hash_text), 64);
        /* What is stored is not the token. */
        assert_string_not_equal(hash_text, text);
        assert_int_equal(auth_token_hash_parse(hash_text, 64, &from_text), 0);
        assert_true(auth_token_hash_equal(&hash, &from_text));
}

static void token_hash_is_blake2b_256_of_the_raw_bytes(void **state)
{
        struct auth_token token;
        struct auth_token_hash hash;
        char hash_text[AUTH_TOKEN_HASH_TEXT_SIZE];

        (void)state;
        memset(token.bytes, 0, sizeof(token.bytes));
        auth_token_hash(&token, &hash);
        auth_token_hash_format(&hash, hash_text);
        /* BLAKE2b-256 of 32 zero bytes, unkeyed (python3 hashlib.blake2b(digest_size=32)). */
        assert_string_equal(hash_text,
                            "89eb0d6a8a691dae2cd15ed0369931ce0a949ecafa5c3f93f8121833646e15c3");
}

static void malformed_tokens_are_rejected(void **state)
{
        struct auth_token token;
        char text[AUTH_TOKEN_TEXT_SIZE];

        (void)state;
        memset(text, 'a', 64);
        text[64] = '\0';
        assert_int_equal(auth_token_parse(text, 64, &token), 0);
        assert_int_equal(auth_token_parse(text, 63, &token), -EINVAL);
        assert_int_equal(auth_token_parse(text, 0, &token), -EINVAL);
        assert_int_equal(auth_token_parse("aa", 2, &token), -EINVAL);
        text[10] = 'A';
        assert_int_equal(auth_token_parse(text, 64, &token), -EINVAL);
        text[10] = 'g';
        assert_int_equal(auth_token_parse(text, 64, &token), -EINVAL);
        text[10] = ' ';
        assert_int_equal(auth_token_parse(text, 64, &token), -EINVAL);
        text[10] = '\0';
        assert_int_equal(auth_token_parse(text, 64, &token), -EINVAL);
}

static void two_tokens_differ(void **state)
{
        struct auth_token a, b;
        struct auth_token_hash hash_a, hash_b;

        (void)state;
        auth_token_generate(&a);
        auth_token_generate(&b);
        assert_memory_not_equal(a.bytes, b.bytes, AUTH_TOKEN_BYTES);
        auth_token_hash(&a, &hash_a);
        auth_token_hash(&b, &hash_b);
        assert_false(auth_token_hash_equal(&hash_a, &hash_b));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(hash_then_verify_accepts_the_password),
            cmocka_unit_test(verify_refuses_a_wrong_password),
            cmocka_unit_test(verify_refuses_a_malformed_hash),
            cmocka_unit_test(same_password_hashes_differently_each_time),
            cmocka_unit_test(needs_rehash_when_stored_cost_is_weaker),
            cmocka_unit_test(cost_below_owasp_minimum_is_refused),
            cmocka_unit_test(password_length_limits),
            cmocka_unit_test(token_round_trips_through_its_text),
            cmocka_unit_test(token_hash_is_blake2b_256_of_the_raw_bytes),
            cmocka_unit_test(malformed_tokens_are_rejected),
            cmocka_unit_test(two_tokens_differ),
        };
        return cmocka_run_group_tests(tests, setup, NULL);
}
