#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"

static void errors_map_to_port_states(void **state)
{
        (void)state;
        assert_int_equal(probe_classify(-ECONNREFUSED), PROBE_CLOSED);
        assert_int_equal(probe_classify(-ECONNRESET), PROBE_OPEN);
        assert_int_equal(probe_classify(-EHOSTUNREACH), PROBE_FILTERED);
        assert_int_equal(probe_classify(-ENETUNREACH), PROBE_FILTERED);
        assert_int_equal(probe_classify(-ETIMEDOUT), PROBE_FILTERED);
        assert_int_equal(probe_classify(-EPERM), PROBE_FILTERED);
        assert_int_equal(probe_classify(-EMFILE), PROBE_BACKPRESSURE);
        assert_int_equal(probe_classify(-EADDRNOTAVAIL), PROBE_BACKPRESSURE);
        assert_int_equal(probe_classify(-EBADF), PROBE_FATAL);
}

static int listener(struct sockaddr_in *addr)
{
        socklen_t len = sizeof(*addr);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        memset(addr, 0, sizeof(*addr));
        addr->sin_family = AF_INET;
        addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
        assert_int_equal(listen(fd, 4), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &len), 0);
        return fd;
}

static void connected_socket_has_a_peer_and_is_not_self_connected(void **state)
{
        struct sockaddr_in addr;
        int server = listener(&addr);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        (void)state;
        assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
        assert_int_equal(probe_connected(fd), 0);
        assert_false(probe_is_self_connect(fd, (struct sockaddr_storage *)&addr, sizeof(addr)));
        probe_close_abortive(fd);
        close(server);
}

static void unconnected_socket_is_still_in_progress(void **state)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        (void)state;
        assert_int_equal(probe_connected(fd), -EINPROGRESS);
        close(fd);
}

static void socket_connected_to_itself_is_detected(void **state)
{
        struct sockaddr_in addr = {.sin_family = AF_INET};
        socklen_t len = sizeof(addr);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        (void)state;
        /* Bind, then connect to the very address: TCP simultaneous open with itself. */
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
        assert_true(probe_is_self_connect(fd, (struct sockaddr_storage *)&addr, sizeof(addr)));
        probe_close_abortive(fd);
}

static void refused_socket_binds_and_connects_again(void **state)
{
        struct sockaddr_in closed, local;
        socklen_t len = sizeof(local);
        int reserved = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        (void)state;
        /* A port bound but not listening is surely closed. */
        memset(&closed, 0, sizeof(closed));
        closed.sin_family = AF_INET;
        closed.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(reserved, (struct sockaddr *)&closed, sizeof(closed)), 0);
        len = sizeof(closed);
        assert_int_equal(getsockname(reserved, (struct sockaddr *)&closed, &len), 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&closed, sizeof(closed)), -1);
        assert_int_equal(errno, ECONNREFUSED);
        assert_int_equal(probe_bind_any(fd), 0);
        len = sizeof(local);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&local, &len), 0);
        assert_int_not_equal(local.sin_port, 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&closed, sizeof(closed)), -1);
        assert_int_equal(errno, ECONNREFUSED);
        close(fd);
        close(reserved);
}

static void fd_budget_leaves_headroom(void **state)
{
        struct rlimit limit;
        unsigned budget = 0;

        (void)state;
        assert_int_equal(probe_fd_budget(&budget), 0);
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &limit), 0);
        /* The soft limit was raised to the hard one. */
        assert_true(limit.rlim_cur == limit.rlim_max || limit.rlim_max == RLIM_INFINITY);
        if (limit.rlim_cur > 2 * PROBE_FD_HEADROOM && limit.rlim_cur <= (1u << 20))
                assert_int_equal(budget, limit.rlim_cur - PROBE_FD_HEADROOM);
        assert_true(budget > 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(errors_map_to_port_states),
            cmocka_unit_test(connected_socket_has_a_peer_and_is_not_self_connected),
            cmocka_unit_test(unconnected_socket_is_still_in_progress),
            cmocka_unit_test(socket_connected_to_itself_is_detected),
            cmocka_unit_test(refused_socket_binds_and_connects_again),
            cmocka_unit_test(fd_budget_leaves_headroom),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
