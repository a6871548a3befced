#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_commands.h"
#include "log.h"
#include "utf8.h"

/* A stand-in for the server: two services, echo and control, and maybe a chat. */
struct fake_server {
        bool paused[2];
        int shutdowns;
        int reload_result;
        const struct control_chat_admin *chat;
        int forgotten;
        char removed[64];
        struct log_ring logs;
};

static const char *const names[] = {"echo", "control"};

static double fake_uptime(void *server)
{
        (void)server;
        return 42;
}

static size_t fake_count(void *server)
{
        (void)server;
        return 2;
}

static void fake_info(void *arg, size_t index, struct control_service_info *info)
{
        struct fake_server *server = arg;

        memset(info, 0, sizeof(*info));
        info->name = names[index];
        info->paused = server->paused[index];
        info->counts.open = (unsigned)index + 1;
        snprintf(info->sockets, sizeof(info->sockets), "%s", index ? "unix /x" : "tcp 1.2.3.4:7");
}

static int fake_set_paused(void *arg, const char *name, bool paused)
{
        struct fake_server *server = arg;

        for (size_t i = 0; i < 2; i++) {
                if (strcmp(names[i], name) == 0) {
                        server->paused[i] = paused;
                        return 0;
                }
        }
        return -ENOENT;
}

static void fake_shutdown(void *arg, const char *who)
{
        struct fake_server *server = arg;

        (void)who;
        server->shutdowns++;
}

static int fake_reload(void *arg, char *error, size_t size)
{
        struct fake_server *server = arg;

        if (server->reload_result < 0)
                snprintf(error, size, "/etc/echod/echod.conf:3: unknown key 'x'");
        return server->reload_result;
}

static const struct control_chat_admin *fake_chat(void *arg, void **state)
{
        struct fake_server *server = arg;

        *state = server;
        return server->chat;
}

static int chat_forget(void *state)
{
        struct fake_server *server = state;

        server->forgotten++;
        return 3;
}

static int chat_list(void *state, void (*each)(void *, const char *, unsigned), void *arg)
{
        (void)state;
        each(arg, "alice", 2);
        each(arg, "bob \"the\" builder", 0);
        return 0;
}

static int chat_remove(void *state, const char *name)
{
        struct fake_server *server = state;

        if (strcmp(name, "nobody") == 0)
                return -ENOENT;
        snprintf(server->removed, sizeof(server->removed), "%s", name);
        return 0;
}

static int chat_kick(void *state, const char *name)
{
        (void)state;
        return strcmp(name, "dave") == 0 ? 1 : -ENOENT;
}

static const struct control_chat_admin chat_admin = {
    .forget_identities = chat_forget,
    .list_users = chat_list,
    .remove_user = chat_remove,
    .kick = chat_kick,
};

struct fixture {
        struct fake_server server;
        struct control_host host;
        struct control_reply reply;
        struct control_outcome outcome;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        log_ring_init(&f->server.logs);
        f->host = (struct control_host){
            .server = &f->server,
            .logs = &f->server.logs,
            .uptime = fake_uptime,
            .service_count = fake_count,
            .service_info = fake_info,
            .set_paused = fake_set_paused,
            .shutdown = fake_shutdown,
            .reload = fake_reload,
            .chat_admin = fake_chat,
        };
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        log_ring_fini(&f->server.logs);
        free(f);
        return 0;
}

static const char *run(struct fixture *f, const char *line)
{
        static const struct control_caller caller = {.uid = 0, .pid = 1, .channel = "test"};

        control_execute(&f->host, &caller, line, &f->reply, &f->outcome);
        assert_int_equal(strlen(f->reply.text), f->reply.length);
        return f->reply.text;
}

static void status_lists_each_service_with_its_sockets(void **state)
{
        struct fixture *f = *state;
        const char *text = run(f, "status");

        assert_true(strncmp(text, "ok echod ", 9) == 0);
        assert_non_null(strstr(text, "\necho: accepting; 1 open, 0 total"));
        assert_non_null(strstr(text, "sockets: tcp 1.2.3.4:7"));
        assert_non_null(strstr(text, "\ncontrol: accepting; 2 open"));
}

static void pause_all_pauses_everything_but_control(void **state)
{
        struct fixture *f = *state;

        assert_string_equal(run(f, "pause"), "ok paused echo");
        assert_true(f->server.paused[0]);
        assert_false(f->server.paused[1]);
        assert_string_equal(run(f, "resume all"), "ok resumed echo");
        assert_false(f->server.paused[0]);
        assert_string_equal(run(f, "pause control"), "error the control service cannot be paused");
        assert_string_equal(run(f, "pause chat"), "error chat is not running");
        assert_string_equal(run(f, "pause echo chat"), "error usage: pause [echo|chat|all]");
}

static void reload_answers_the_error_with_file_and_line(void **state)
{
        struct fixture *f = *state;

        assert_string_equal(run(f, "reload"), "ok reloaded");
        f->server.reload_result = -EINVAL;
        assert_string_equal(run(f, "reload"), "error /etc/echod/echod.conf:3: unknown key 'x'");
        assert_string_equal(
            run(f, "--json reload"),
            "{\"ok\":false,\"error\":\"/etc/echod/echod.conf:3: unknown key 'x'\"}");
}

static void shutdown_answers_then_stops(void **state)
{
        struct fixture *f = *state;

        assert_string_equal(run(f, "shutdown"), "ok shutting down");
        assert_int_equal(f->server.shutdowns, 1);
        assert_string_equal(run(f, "shutdown now"), "error usage: shutdown takes no arguments");
        assert_int_equal(f->server.shutdowns, 1);
}

static void chat_commands_need_the_chat(void **state)
{
        struct fixture *f = *state;

        assert_string_equal(run(f, "forget-identities"), "error chat is not running");
        assert_string_equal(run(f, "users"), "error chat is not running");
        assert_string_equal(run(f, "kick bob"), "error chat is not running");
}

static void chat_commands_reach_the_chat_hook(void **state)
{
        struct fixture *f = *state;

        f->server.chat = &chat_admin;
        assert_string_equal(run(f, "forget-identities"), "ok forgot 3 identities");
        assert_int_equal(f->server.forgotten, 1);
        assert_string_equal(run(f, "users"), "ok\nalice 2\nbob \"the\" builder 0");
        assert_string_equal(run(f, "--json users"),
                            "{\"ok\":true,\"users\":[{\"name\":\"alice\",\"sessions\":2},"
                            "{\"name\":\"bob \\\"the\\\" builder\",\"sessions\":0}]}");
        assert_string_equal(run(f, "users remove carol"), "ok removed carol");
        assert_string_equal(f->server.removed, "carol");
        assert_string_equal(run(f, "users remove nobody"), "error no user 'nobody'");
        assert_string_equal(run(f, "kick dave"), "ok kicked dave");
        assert_string_equal(
            run(f, "users drop x"),
            "error usage: forget-identities | users | users remove NAME | kick NAME");
}

static void logs_give_the_newest_records_and_follow_on_request(void **state)
{
        struct fixture *f = *state;
        struct log_entry entry = {.priority = LOG_INFO};
        char message[32];

        for (int i = 0; i < 600; i++) {
                snprintf(message, sizeof(message), "record %d", i);
                entry.message = message;
                log_ring_sink(&f->server.logs, &entry);
        }
        assert_int_equal(log_ring_count(&f->server.logs), LOG_RING_RECORDS);
        run(f, "logs -n 2");
        assert_false(f->outcome.follow);
        assert_non_null(strstr(f->reply.text, "<info> record 598\n"));
        assert_true(strstr(f->reply.text, "record 599") + strlen("record 599") ==
                    f->reply.text + f->reply.length);
        assert_null(strstr(f->reply.text, "record 597"));
        assert_string_equal(run(f, "logs -n 0 -f"), "ok");
        assert_true(f->outcome.follow);
        assert_true(strncmp(run(f, "logs -n 999"), "error usage: logs", 17) == 0);
        assert_false(f->outcome.follow);
}

static void a_full_reply_keeps_whole_lines(void **state)
{
        struct fixture *f = *state;
        struct log_entry entry = {.priority = LOG_INFO};
        char *big = malloc(2000);

        assert_non_null(big);
        memset(big, 'x', 1999);
        big[1999] = '\0';
        entry.message = big;
        for (int i = 0; i < LOG_RING_RECORDS; i++)
                log_ring_sink(&f->server.logs, &entry);
        run(f, "logs -n 512");
        assert_true(f->reply.length <= FRAME_PAYLOAD_MAX);
        assert_true(f->reply.length > FRAME_PAYLOAD_MAX / 2);
        assert_int_equal(f->reply.text[f->reply.length - 1], 'x');
        run(f, "--json logs -n 512");
        assert_true(f->reply.length <= FRAME_PAYLOAD_MAX);
        assert_string_equal(f->reply.text + f->reply.length - 3, "\"]}");
        free(big);
}

static void bad_requests_are_error_replies(void **state)
{
        struct fixture *f = *state;

        assert_string_equal(run(f, ""), "error empty request (try help)");
        assert_string_equal(run(f, "  \t "), "error empty request (try help)");
        assert_string_equal(run(f, "frobnicate"), "error unknown command 'frobnicate' (try help)");
        assert_string_equal(run(f, "a b c d e f g h i"), "error too many words");
        assert_string_equal(run(f, "--json nope"),
                            "{\"ok\":false,\"error\":\"unknown command 'nope' (try help)\"}");
        assert_true(strncmp(run(f, "help"), "ok\nstatus", 9) == 0);
}

/* The reply is one frame's payload: valid UTF-8 without NUL, within the frame limit. */
static void assert_valid_reply(const struct fixture *f)
{
        assert_true(f->reply.length <= FRAME_PAYLOAD_MAX);
        assert_int_equal(strlen(f->reply.text), f->reply.length);
        assert_int_equal(utf8_validate(f->reply.text, f->reply.length), 0);
}

/* "a" and n times "é" (two bytes each): as long as a request line may be. */
static char *long_name(size_t n)
{
        char *name = malloc(1 + 2 * n + 1);

        assert_non_null(name);
        name[0] = 'a';
        for (size_t i = 0; i < n; i++)
                memcpy(name + 1 + 2 * i, "\xc3\xa9", 2);
        name[1 + 2 * n] = '\0';
        return name;
}

static void an_error_quoting_a_long_multibyte_name_is_valid_utf8(void **state)
{
        struct fixture *f = *state;
        char *name = long_name(508);
        char line[1100];

        f->server.chat = &chat_admin;
        snprintf(line, sizeof(line), "kick %s", name);
        run(f, line);
        assert_valid_reply(f);
        assert_true(strncmp(f->reply.text, "error no user 'a\xc3\xa9", 18) == 0);
        assert_non_null(strstr(f->reply.text, "...'"));
        snprintf(line, sizeof(line), "users remove nobody%s", name + 1);
        run(f, line);
        assert_valid_reply(f);
        snprintf(line, sizeof(line), "pause %s", name);
        run(f, line);
        assert_valid_reply(f);
        assert_true(strncmp(f->reply.text, "error unknown service 'a", 24) == 0);
        free(name);
}

static void an_unknown_multibyte_command_is_quoted_whole_characters(void **state)
{
        struct fixture *f = *state;
        char line[200] = "";

        /* 30 euro signs (3 bytes each): a cut at any fixed byte count may split one. */
        for (int i = 0; i < 30; i++)
                strcat(line, "\xe2\x82\xac");
        run(f, line);
        assert_valid_reply(f);
        assert_true(strncmp(f->reply.text, "error unknown command '\xe2\x82\xac", 26) == 0);
        snprintf(line, sizeof(line), "--json x");
        for (int i = 0; i < 30; i++)
                strcat(line, "\xc3\xa9");
        run(f, line);
        assert_valid_reply(f);
}

static void a_record_that_is_not_utf8_is_repaired_in_the_reply(void **state)
{
        struct fixture *f = *state;
        struct log_entry entry = {.priority = LOG_INFO, .message = "bad \xff\xfe bytes \xe2\x82"};

        log_ring_sink(&f->server.logs, &entry);
        run(f, "logs -n 1");
        assert_valid_reply(f);
        assert_non_null(strstr(f->reply.text, "bad ?? bytes ??"));
        run(f, "--json logs -n 1");
        assert_valid_reply(f);
        control_format_record(false, "\xc0\xaf record", &f->reply);
        assert_valid_reply(f);
        control_error_reply(false, "\xf0\x9f reason", &f->reply);
        assert_valid_reply(f);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(status_lists_each_service_with_its_sockets, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(pause_all_pauses_everything_but_control, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(reload_answers_the_error_with_file_and_line, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(shutdown_answers_then_stops, setup, teardown),
            cmocka_unit_test_setup_teardown(chat_commands_need_the_chat, setup, teardown),
            cmocka_unit_test_setup_teardown(chat_commands_reach_the_chat_hook, setup, teardown),
            cmocka_unit_test_setup_teardown(logs_give_the_newest_records_and_follow_on_request,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(a_full_reply_keeps_whole_lines, setup, teardown),
            cmocka_unit_test_setup_teardown(bad_requests_are_error_replies, setup, teardown),
            cmocka_unit_test_setup_teardown(an_error_quoting_a_long_multibyte_name_is_valid_utf8,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(an_unknown_multibyte_command_is_quoted_whole_characters,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(a_record_that_is_not_utf8_is_repaired_in_the_reply,
                                            setup, teardown),
        };

        /* Actions are logged; keep the test's output to its results. */
        log_set_level(LOG_EMERG);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
