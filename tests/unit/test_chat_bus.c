#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "bus.h"
#include "chat_line.h"

struct inbox {
        int count;
        enum bus_kind kind;
        uint64_t id, time_ms, sender;
        char name[CHAT_NAME_MAX + 1];
        char text[CHAT_LINE_MAX + 1];
        struct bus *bus; /* set to publish from inside a delivery */
        int nested_result;
};

static void deliver(void *context, const struct bus_message *message)
{
        struct inbox *inbox = context;

        inbox->count++;
        inbox->kind = message->kind;
        inbox->id = message->id;
        inbox->time_ms = message->time_ms;
        inbox->sender = message->sender;
        strcpy(inbox->name, message->name);
        if (message->text_length)
                memcpy(inbox->text, message->text, message->text_length);
        inbox->text[message->text_length] = '\0';
        if (inbox->bus)
                inbox->nested_result = bus_publish(inbox->bus, message);
}

static void published_message_is_delivered_once_with_every_field(void **state)
{
        struct bus bus;
        struct inbox inbox = {0};
        struct bus_message message = {BUS_MESSAGE, 17, 1796197723123ull, 99, "ann", "hi all", 6};

        (void)state;
        assert_int_equal(bus_local_open(&bus), 0);
        assert_string_equal(bus.ops->kind, "local");
        assert_int_equal(bus_subscribe(&bus, deliver, &inbox), 0);
        assert_int_equal(bus_publish(&bus, &message), 0);
        /* In-process: delivered before publish returns. */
        assert_int_equal(inbox.count, 1);
        assert_int_equal(inbox.kind, BUS_MESSAGE);
        assert_int_equal(inbox.id, 17);
        assert_int_equal(inbox.time_ms, 1796197723123ull);
        assert_int_equal(inbox.sender, 99);
        assert_string_equal(inbox.name, "ann");
        assert_string_equal(inbox.text, "hi all");
        bus_fini(&bus);
}

static void join_and_leave_carry_no_text(void **state)
{
        struct bus bus;
        struct inbox inbox = {0};
        struct bus_message join = {BUS_JOIN, 0, 5, 1, "bob", NULL, 0};
        struct bus_message leave = {BUS_LEAVE, 0, 6, 1, "bob", NULL, 0};

        (void)state;
        assert_int_equal(bus_local_open(&bus), 0);
        assert_int_equal(bus_subscribe(&bus, deliver, &inbox), 0);
        assert_int_equal(bus_publish(&bus, &join), 0);
        assert_int_equal(inbox.kind, BUS_JOIN);
        assert_int_equal(bus_publish(&bus, &leave), 0);
        assert_int_equal(inbox.kind, BUS_LEAVE);
        assert_int_equal(inbox.count, 2);
        assert_string_equal(inbox.text, "");
        bus_fini(&bus);
}

static void publish_without_subscriber_reaches_no_one(void **state)
{
        struct bus bus;
        struct inbox inbox = {0};
        struct bus_message message = {BUS_MESSAGE, 1, 1, 1, "ann", "x", 1};

        (void)state;
        assert_int_equal(bus_local_open(&bus), 0);
        assert_int_equal(bus_publish(&bus, &message), 0);
        assert_int_equal(bus_subscribe(&bus, deliver, &inbox), 0);
        assert_int_equal(bus_subscribe(&bus, NULL, NULL), 0);
        assert_int_equal(bus_publish(&bus, &message), 0);
        assert_int_equal(inbox.count, 0);
        bus_fini(&bus);
}

static void publish_from_inside_a_delivery_is_refused(void **state)
{
        struct bus bus;
        struct inbox inbox = {0};
        struct bus_message message = {BUS_MESSAGE, 1, 1, 1, "ann", "x", 1};

        (void)state;
        assert_int_equal(bus_local_open(&bus), 0);
        inbox.bus = &bus;
        assert_int_equal(bus_subscribe(&bus, deliver, &inbox), 0);
        assert_int_equal(bus_publish(&bus, &message), 0);
        assert_int_equal(inbox.nested_result, -EDEADLK);
        assert_int_equal(inbox.count, 1);
        /* And the bus is usable again afterwards. */
        inbox.bus = NULL;
        assert_int_equal(bus_publish(&bus, &message), 0);
        assert_int_equal(inbox.count, 2);
        bus_fini(&bus);
}

static void malformed_messages_are_refused(void **state)
{
        static char too_long[CHAT_LINE_MAX + 1];
        struct bus bus;
        struct inbox inbox = {0};
        struct bus_message bad_name = {BUS_MESSAGE, 1, 1, 1, "a b", "x", 1};
        struct bus_message no_name = {BUS_MESSAGE, 1, 1, 1, NULL, "x", 1};
        struct bus_message long_text = {BUS_MESSAGE, 1, 1, 1, "ann", too_long, sizeof(too_long)};

        (void)state;
        assert_int_equal(bus_local_open(&bus), 0);
        assert_int_equal(bus_subscribe(&bus, deliver, &inbox), 0);
        assert_int_equal(bus_publish(&bus, &bad_name), -EINVAL);
        assert_int_equal(bus_publish(&bus, &no_name), -EINVAL);
        assert_int_equal(bus_publish(&bus, &long_text), -EINVAL);
        assert_int_equal(inbox.count, 0);
        bus_fini(&bus);
        /* fini twice is harmless. */
        bus_fini(&bus);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(published_message_is_delivered_once_with_every_field),
            cmocka_unit_test(join_and_leave_carry_no_text),
            cmocka_unit_test(publish_without_subscriber_reaches_no_one),
            cmocka_unit_test(publish_from_inside_a_delivery_is_refused),
            cmocka_unit_test(malformed_messages_are_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
