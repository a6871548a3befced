#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "restart.h"

/* A listener on a loopback port of the kernel's choosing. */
static int loopback_listener(struct sockaddr_in *address)
{
        socklen_t length = sizeof(*address);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        *address =
            (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_int_equal(bind(fd, (struct sockaddr *)address, sizeof(*address)), 0);
        assert_int_equal(listen(fd, 4), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)address, &length), 0);
        return fd;
}

static void a_connected_tcp_socket_is_a_connection(void **state)
{
        struct sockaddr_in address;
        int listener = loopback_listener(&address);
        int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int accepted;

        (void)state;
        assert_int_equal(connect(client, (struct sockaddr *)&address, sizeof(address)), 0);
        accepted = accept(listener, NULL, NULL);
        assert_true(accepted >= 0);
        assert_int_equal(restart_check_connection(accepted, false), 0);
        assert_int_equal(restart_check_connection(client, false), 0);
        /* A listener, or a TCP socket never connected, is not. */
        assert_int_equal(restart_check_connection(listener, true), -ENOTCONN);
        close(client);
        client = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (client >= 0) /* a kernel without IPv6 has nothing to check here */
                assert_int_equal(restart_check_connection(client, true), -ENOTCONN);
        close(client);
        close(accepted);
        close(listener);
}

static void a_connected_udp_socket_is_refused(void **state)
{
        struct sockaddr_in address = {
            .sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        (void)state;
        assert_int_equal(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
        assert_int_equal(restart_check_connection(fd, true), -EPROTOTYPE);
        close(fd);
}

static void unix_stream_sockets_only_where_the_service_serves_unix(void **state)
{
        int pair[2];

        (void)state;
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
        assert_int_equal(restart_check_connection(pair[0], false), -EAFNOSUPPORT);
        assert_int_equal(restart_check_connection(pair[0], true), 0);
        close(pair[0]);
        close(pair[1]);
        assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair), 0);
        assert_int_equal(restart_check_connection(pair[0], true), -EPROTOTYPE);
        close(pair[0]);
        close(pair[1]);
}

static void what_is_not_a_socket_is_refused(void **state)
{
        int pipe_fds[2];

        (void)state;
        assert_int_equal(pipe(pipe_fds), 0);
        assert_int_equal(restart_check_connection(pipe_fds[0], true), -ENOTSOCK);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        assert_int_equal(restart_check_connection(-1, true), -ENOTSOCK);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(a_connected_tcp_socket_is_a_connection),
            cmocka_unit_test(a_connected_udp_socket_is_refused),
            cmocka_unit_test(unix_stream_sockets_only_where_the_service_serves_unix),
            cmocka_unit_test(what_is_not_a_socket_is_refused),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
