#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lockout.h"

static struct lockout_table make_table(size_t size, bool keep_live)
{
        struct lockout_options options = {
            .size = size, .max = 5, .memory = 900, .keep_live = keep_live};
        struct lockout_table table;

        assert_int_equal(lockout_init(&table, &options), 0);
        return table;
}

static void a_check_counts_from_its_reservation(void **state)
{
        struct lockout_table table = make_table(16, true);

        (void)state;
        /* Five checks racing: all reserved before any ends; the sixth is refused. */
        for (int i = 0; i < 5; i++)
                assert_int_equal(lockout_reserve(&table, "n:alice", 1.0), 0);
        assert_int_equal(lockout_count(&table, "n:alice", 1.0), 5);
        assert_true(lockout_locked(&table, "n:alice", 1.0));
        assert_int_equal(lockout_reserve(&table, "n:alice", 1.0), -EDQUOT);
        /* Failing turns a check into a failure: the count stays. */
        assert_int_equal(lockout_fail(&table, "n:alice", 2.0), 5);
        assert_int_equal(lockout_reserve(&table, "n:alice", 2.0), -EDQUOT);
        /* A check that never ran gives its place back. */
        lockout_release(&table, "n:alice");
        assert_int_equal(lockout_count(&table, "n:alice", 2.0), 4);
        assert_int_equal(lockout_reserve(&table, "n:alice", 2.0), 0);
        /* Other keys are not affected. */
        assert_int_equal(lockout_count(&table, "n:bob", 2.0), 0);
        lockout_fini(&table);
}

static void a_success_clears_failures_but_not_the_checks_still_out(void **state)
{
        struct lockout_table table = make_table(16, true);

        (void)state;
        for (int i = 0; i < 2; i++) {
                assert_int_equal(lockout_reserve(&table, "n:alice", 1.0), 0);
                lockout_fail(&table, "n:alice", 1.0);
        }
        /* An attacker's two checks out, and the user's own, which succeeds. */
        for (int i = 0; i < 3; i++)
                assert_int_equal(lockout_reserve(&table, "n:alice", 1.0), 0);
        assert_int_equal(lockout_reserve(&table, "n:alice", 1.0), -EDQUOT);
        lockout_release(&table, "n:alice");
        lockout_clear(&table, "n:alice");
        assert_int_equal(lockout_count(&table, "n:alice", 1.0), 2);
        assert_int_equal(lockout_fail(&table, "n:alice", 1.0), 2);
        assert_int_equal(lockout_fail(&table, "n:alice", 1.0), 2);
        lockout_clear(&table, "n:alice");
        assert_int_equal(lockout_count(&table, "n:alice", 1.0), 0);
        lockout_fini(&table);
}

static void failures_are_forgotten_after_the_memory_but_checks_out_are_not(void **state)
{
        struct lockout_table table = make_table(16, true);

        (void)state;
        assert_int_equal(lockout_add(&table, "a:192.0.2.1", 10.0), 1);
        assert_int_equal(lockout_add(&table, "a:192.0.2.1", 20.0), 2);
        assert_int_equal(lockout_count(&table, "a:192.0.2.1", 920.0), 2);
        assert_int_equal(lockout_count(&table, "a:192.0.2.1", 920.5), 0);
        assert_int_equal(lockout_reserve(&table, "n:alice", 0.0), 0);
        assert_int_equal(lockout_count(&table, "n:alice", 5000.0), 1);
        assert_int_equal(lockout_fail(&table, "n:alice", 5000.0), 1);
        lockout_fini(&table);
}

static void a_full_name_table_refuses_newcomers_and_keeps_every_count(void **state)
{
        struct lockout_table table = make_table(4, true);
        char key[LOCKOUT_KEY_MAX];

        (void)state;
        for (int i = 0; i < 4; i++)
                assert_int_equal(lockout_add(&table, "n:victim", 1.0), i + 1);
        for (int i = 0; i < 3; i++) {
                snprintf(key, sizeof(key), "n:churn%d", i);
                assert_int_equal(lockout_add(&table, key, 2.0), 1);
        }
        /* Full of live counts: a new name is refused, however many try. */
        for (int i = 3; i < 100; i++) {
                snprintf(key, sizeof(key), "n:churn%d", i);
                assert_int_equal(lockout_reserve(&table, key, 3.0), -ENOSPC);
                assert_int_equal(lockout_add(&table, key, 3.0), -ENOSPC);
        }
        assert_int_equal(lockout_count(&table, "n:victim", 3.0), 4);
        /* Once counts expire, their slots are free again. */
        assert_int_equal(lockout_reserve(&table, "n:late", 902.5), 0);
        lockout_fini(&table);
}

static void a_full_address_table_forgets_the_least_count_first(void **state)
{
        struct lockout_table table = make_table(4, false);
        char key[LOCKOUT_KEY_MAX];

        (void)state;
        for (int i = 0; i < 4; i++)
                lockout_add(&table, "a:192.0.2.1", 1.0);
        assert_int_equal(lockout_reserve(&table, "a:192.0.2.2", 1.0), 0); /* a check out */
        lockout_add(&table, "a:192.0.2.3", 1.0);
        lockout_add(&table, "a:192.0.2.3", 1.0);
        /* Churn with single failures only ever replaces single failures. */
        for (int i = 0; i < 1000; i++) {
                snprintf(key, sizeof(key), "a:198.51.100.%d", i % 250);
                assert_int_equal(lockout_add(&table, key, 2.0 + i * 0.01), 1);
        }
        assert_int_equal(lockout_count(&table, "a:192.0.2.1", 20.0), 4);
        assert_int_equal(lockout_count(&table, "a:192.0.2.2", 20.0), 1);
        assert_int_equal(lockout_count(&table, "a:192.0.2.3", 20.0), 2);
        /* Past the memory, only the check still out is counted. */
        assert_int_equal(lockout_count(&table, "a:192.0.2.2", 5000.0), 1);
        lockout_fini(&table);
}

static void names_fold_case_and_addresses_do_not(void **state)
{
        char key[LOCKOUT_KEY_MAX];

        (void)state;
        lockout_name_key(key, "Alice.B");
        assert_string_equal(key, "n:alice.b");
        lockout_address_key(key, "2001:db8:1:2::/64");
        assert_string_equal(key, "a:2001:db8:1:2::/64");
        lockout_address_key(key, "ABCD");
        assert_string_equal(key, "a:ABCD");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(a_check_counts_from_its_reservation),
            cmocka_unit_test(a_success_clears_failures_but_not_the_checks_still_out),
            cmocka_unit_test(failures_are_forgotten_after_the_memory_but_checks_out_are_not),
            cmocka_unit_test(a_full_name_table_refuses_newcomers_and_keeps_every_count),
            cmocka_unit_test(a_full_address_table_forgets_the_least_count_first),
            cmocka_unit_test(names_fold_case_and_addresses_do_not),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
