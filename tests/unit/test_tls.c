#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tls.h"

/* Throwaway pairs made by the real openssl req in a temp dir of this test's own. */
static char directory[] = "/tmp/echod-test-tls-XXXXXX";

static void make_pair(const char *name, const char *subject, int days)
{
        char command[1024];

        snprintf(command, sizeof(command),
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                 "-keyout %s/%s.key -out %s/%s.crt -days %d -subj '%s' "
                 "-addext 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1' 2>/dev/null",
                 directory, name, directory, name, days, subject);
        if (system(command) != 0)
                fail_msg("MISSING: openssl req failed (package openssl)");
        snprintf(command, sizeof(command), "%s/%s.key", directory, name);
        assert_int_equal(chmod(command, 0600), 0);
}

static int setup(void **state)
{
        (void)state;
        if (!mkdtemp(directory))
                return -1;
        make_pair("good", "/CN=echod test", 30);
        make_pair("other", "/CN=other", 30);
        return 0;
}

static int teardown(void **state)
{
        char command[256];

        (void)state;
        snprintf(command, sizeof(command), "rm -rf %s", directory);
        return system(command) == 0 ? 0 : -1;
}

static int load(const char *certificate, const char *key, struct tls_context **context, char *error,
                size_t size)
{
        char certificate_path[256], key_path[256];

        snprintf(certificate_path, sizeof(certificate_path), "%s/%s.crt", directory, certificate);
        snprintf(key_path, sizeof(key_path), "%s/%s.key", directory, key);
        return tls_context_load(certificate_path, key_path, context, error, size);
}

static void test_a_matching_pair_loads_under_the_policy(void **state)
{
        struct tls_context *context = NULL;
        char error[256] = "";
        SSL_CTX *native;

        (void)state;
        assert_int_equal(load("good", "good", &context, error, sizeof(error)), 0);
        native = tls_context_native(context);
        assert_int_equal(SSL_CTX_get_min_proto_version(native), TLS1_2_VERSION);
        assert_true(SSL_CTX_get_options(native) & SSL_OP_NO_RENEGOTIATION);
        assert_true(SSL_CTX_get_options(native) & SSL_OP_NO_COMPRESSION);
        assert_false(SSL_CTX_get_options(native) & SSL_OP_NO_TICKET);
        tls_context_free(context);
}

static void test_only_forward_secret_suites_are_offered_for_tls12(void **state)
{
        struct tls_context *context = NULL;
        char error[256] = "";
        STACK_OF(SSL_CIPHER) * ciphers;
        SSL *connection;

        (void)state;
        assert_int_equal(load("good", "good", &context, error, sizeof(error)), 0);
        connection = SSL_new(tls_context_native(context));
        assert_non_null(connection);
        ciphers = SSL_get_ciphers(connection);
        assert_true(sk_SSL_CIPHER_num(ciphers) > 0);
        for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); i++) {
                const SSL_CIPHER *cipher = sk_SSL_CIPHER_value(ciphers, i);
                int kx = SSL_CIPHER_get_kx_nid(cipher);

                /* NID_kx_any is TLS 1.3, whose key exchange is always ephemeral. */
                if (kx != NID_kx_ecdhe && kx != NID_kx_any)
                        fail_msg("suite %s is not forward secret", SSL_CIPHER_get_name(cipher));
        }
        SSL_free(connection);
        tls_context_free(context);
}

static void test_the_certificate_info_names_subject_sans_and_expiry(void **state)
{
        struct tls_certificate_info info;
        struct tls_context *context = NULL;
        char error[256] = "";
        time_t now = time(NULL);

        (void)state;
        assert_int_equal(load("good", "good", &context, error, sizeof(error)), 0);
        assert_int_equal(tls_context_info(context, &info), 0);
        assert_non_null(strstr(info.subject, "CN=echod test"));
        assert_string_equal(info.sans, "DNS:localhost, IP:127.0.0.1, IP:::1");
        assert_true(info.not_after > now + 29 * 86400);
        assert_true(info.not_after < now + 31 * 86400);
        tls_context_free(context);
}

static void test_a_key_readable_by_others_is_refused(void **state)
{
        struct tls_context *context = NULL;
        char error[256] = "", key_path[256];

        (void)state;
        snprintf(key_path, sizeof(key_path), "%s/good.key", directory);
        assert_int_equal(chmod(key_path, 0640), 0);
        assert_int_equal(load("good", "good", &context, error, sizeof(error)), -EPERM);
        assert_null(context);
        assert_non_null(strstr(error, "readable by group or other"));
        assert_int_equal(chmod(key_path, 0600), 0);
}

static void test_a_mismatched_pair_is_refused(void **state)
{
        struct tls_context *context = NULL;
        char error[256] = "";

        (void)state;
        assert_int_equal(load("good", "other", &context, error, sizeof(error)), -EINVAL);
        assert_null(context);
        assert_non_null(strstr(error, "does not match"));
}

static void test_a_missing_file_is_one_clear_error(void **state)
{
        struct tls_context *context = NULL;
        char error[256] = "";

        (void)state;
        assert_int_equal(load("absent", "good", &context, error, sizeof(error)), -EINVAL);
        assert_non_null(strstr(error, "cannot load TLS certificate"));
        assert_int_equal(load("good", "absent", &context, error, sizeof(error)), -ENOENT);
        assert_non_null(strstr(error, "cannot open TLS key"));
        assert_null(strchr(error, '\n'));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_a_matching_pair_loads_under_the_policy),
            cmocka_unit_test(test_only_forward_secret_suites_are_offered_for_tls12),
            cmocka_unit_test(test_the_certificate_info_names_subject_sans_and_expiry),
            cmocka_unit_test(test_a_key_readable_by_others_is_refused),
            cmocka_unit_test(test_a_mismatched_pair_is_refused),
            cmocka_unit_test(test_a_missing_file_is_one_clear_error),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
