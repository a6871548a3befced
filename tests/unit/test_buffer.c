#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "buffer.h"

static void init_allocates_nothing(void **state)
{
        struct buffer buffer;
        size_t length = 99;

        (void)state;
        memset(&buffer, 0xa5, sizeof(buffer));
        buffer_init(&buffer, 16);
        assert_null(buffer.data);
        assert_int_equal(buffer.capacity, 16);
        assert_true(buffer_empty(&buffer));
        assert_int_equal(buffer_length(&buffer), 0);
        assert_null(buffer_head(&buffer, &length));
        assert_int_equal(length, 0);
        buffer_fini(&buffer);
}

static void reserve_allocates_on_first_use(void **state)
{
        struct buffer buffer;
        char *tail = NULL;
        size_t space = 0;

        (void)state;
        buffer_init(&buffer, 32);
        assert_int_equal(buffer_reserve(&buffer, &tail, &space), 0);
        assert_non_null(buffer.data);
        assert_ptr_equal(tail, buffer.data);
        assert_int_equal(space, 32);
        buffer_fini(&buffer);
        assert_null(buffer.data);
}

static void append_then_head_returns_bytes_in_order(void **state)
{
        struct buffer buffer;
        const char *head;
        size_t length;

        (void)state;
        buffer_init(&buffer, 16);
        assert_int_equal(buffer_append(&buffer, "hello", 5), 5);
        assert_int_equal(buffer_append(&buffer, " you", 4), 4);
        assert_false(buffer_empty(&buffer));
        assert_int_equal(buffer_length(&buffer), 9);
        head = buffer_head(&buffer, &length);
        assert_int_equal(length, 9);
        assert_memory_equal(head, "hello you", 9);
        buffer_fini(&buffer);
}

static void append_past_capacity_returns_partial_count(void **state)
{
        struct buffer buffer;
        const char *head;
        size_t length;

        (void)state;
        buffer_init(&buffer, 8);
        assert_int_equal(buffer_append(&buffer, "abcdef", 6), 6);
        assert_int_equal(buffer_append(&buffer, "ghijkl", 6), 2);
        assert_int_equal(buffer_length(&buffer), 8);
        assert_int_equal(buffer_append(&buffer, "x", 1), 0);
        head = buffer_head(&buffer, &length);
        assert_int_equal(length, 8);
        assert_memory_equal(head, "abcdefgh", 8);
        buffer_fini(&buffer);
}

static void reserve_reports_no_space_when_full(void **state)
{
        struct buffer buffer;
        char *tail;
        size_t space = 99;

        (void)state;
        buffer_init(&buffer, 4);
        assert_int_equal(buffer_append(&buffer, "abcd", 4), 4);
        assert_int_equal(buffer_reserve(&buffer, &tail, &space), 0);
        assert_int_equal(space, 0);
        buffer_fini(&buffer);
}

static void consume_drops_from_head(void **state)
{
        struct buffer buffer;
        const char *head;
        size_t length;

        (void)state;
        buffer_init(&buffer, 16);
        assert_int_equal(buffer_append(&buffer, "abcdef", 6), 6);
        buffer_consume(&buffer, 2);
        assert_int_equal(buffer_length(&buffer), 4);
        head = buffer_head(&buffer, &length);
        assert_int_equal(length, 4);
        assert_memory_equal(head, "cdef", 4);
        buffer_fini(&buffer);
}

static void consume_everything_resets_to_front(void **state)
{
        struct buffer buffer;
        char *tail;
        size_t space;

        (void)state;
        buffer_init(&buffer, 16);
        assert_int_equal(buffer_append(&buffer, "abcdef", 6), 6);
        buffer_consume(&buffer, 6);
        assert_true(buffer_empty(&buffer));
        assert_int_equal(buffer.start, 0);
        assert_int_equal(buffer.end, 0);
        assert_int_equal(buffer_reserve(&buffer, &tail, &space), 0);
        assert_ptr_equal(tail, buffer.data);
        assert_int_equal(space, 16);
        buffer_fini(&buffer);
}

static void consume_more_than_waiting_empties(void **state)
{
        struct buffer buffer;

        (void)state;
        buffer_init(&buffer, 16);
        assert_int_equal(buffer_append(&buffer, "abc", 3), 3);
        buffer_consume(&buffer, 10);
        assert_true(buffer_empty(&buffer));
        assert_int_equal(buffer_length(&buffer), 0);
        assert_int_equal(buffer_append(&buffer, "0123456789abcdef", 16), 16);
        buffer_fini(&buffer);
}

static void reserve_compacts_when_tail_reaches_capacity(void **state)
{
        struct buffer buffer;
        const char *head;
        char *tail;
        size_t space, length;

        (void)state;
        buffer_init(&buffer, 8);
        assert_int_equal(buffer_append(&buffer, "abcdefgh", 8), 8);
        buffer_consume(&buffer, 5);
        assert_int_equal(buffer_reserve(&buffer, &tail, &space), 0);
        assert_int_equal(buffer.start, 0);
        assert_int_equal(space, 5);
        assert_ptr_equal(tail, buffer.data + 3);
        head = buffer_head(&buffer, &length);
        assert_ptr_equal(head, buffer.data);
        assert_int_equal(length, 3);
        assert_memory_equal(head, "fgh", 3);
        /* The room made by compacting is usable in full. */
        assert_int_equal(buffer_append(&buffer, "ijklmnop", 8), 5);
        head = buffer_head(&buffer, &length);
        assert_int_equal(length, 8);
        assert_memory_equal(head, "fghijklm", 8);
        buffer_fini(&buffer);
}

static void reserve_leaves_data_in_place_while_tail_has_room(void **state)
{
        struct buffer buffer;
        char *tail;
        size_t space;

        (void)state;
        buffer_init(&buffer, 8);
        assert_int_equal(buffer_append(&buffer, "abcd", 4), 4);
        buffer_consume(&buffer, 2);
        assert_int_equal(buffer_reserve(&buffer, &tail, &space), 0);
        assert_int_equal(buffer.start, 2);
        assert_ptr_equal(tail, buffer.data + 4);
        assert_int_equal(space, 4);
        buffer_fini(&buffer);
}

static void produce_counts_bytes_written_at_tail(void **state)
{
        struct buffer buffer;
        const char *head;
        char *tail;
        size_t space, length;

        (void)state;
        buffer_init(&buffer, 8);
        assert_int_equal(buffer_reserve(&buffer, &tail, &space), 0);
        memcpy(tail, "xyz", 3);
        buffer_produce(&buffer, 3);
        assert_int_equal(buffer_length(&buffer), 3);
        assert_int_equal(buffer_reserve(&buffer, &tail, &space), 0);
        assert_int_equal(space, 5);
        head = buffer_head(&buffer, &length);
        assert_memory_equal(head, "xyz", 3);
        buffer_fini(&buffer);
}

static void free_then_reuse_allocates_again(void **state)
{
        struct buffer buffer;

        (void)state;
        buffer_init(&buffer, 8);
        assert_int_equal(buffer_append(&buffer, "abc", 3), 3);
        buffer_fini(&buffer);
        assert_true(buffer_empty(&buffer));
        assert_int_equal(buffer_append(&buffer, "abcdefghij", 10), 8);
        assert_int_equal(buffer_length(&buffer), 8);
        buffer_fini(&buffer);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(init_allocates_nothing),
            cmocka_unit_test(reserve_allocates_on_first_use),
            cmocka_unit_test(append_then_head_returns_bytes_in_order),
            cmocka_unit_test(append_past_capacity_returns_partial_count),
            cmocka_unit_test(reserve_reports_no_space_when_full),
            cmocka_unit_test(consume_drops_from_head),
            cmocka_unit_test(consume_everything_resets_to_front),
            cmocka_unit_test(consume_more_than_waiting_empties),
            cmocka_unit_test(reserve_compacts_when_tail_reaches_capacity),
            cmocka_unit_test(reserve_leaves_data_in_place_while_tail_has_room),
            cmocka_unit_test(produce_counts_bytes_written_at_tail),
            cmocka_unit_test(free_then_reuse_allocates_again),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
