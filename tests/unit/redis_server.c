#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "redis_server.h"

#define START_DEADLINE 30.0 /* seconds: an upper bound, never a pace */

double test_clock_seconds(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t test_clock_wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void test_loop_tick(struct ev_loop *loop, ev_timer *timer, int revents)
{
        (void)loop;
        (void)timer;
        (void)revents;
}

int redis_server_free_port(void)
{
        struct sockaddr_in address = {.sin_family = AF_INET};
        socklen_t length = sizeof(address);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int port;

        assert_true(fd >= 0);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&address, &length), 0);
        port = ntohs(address.sin_port);
        close(fd);
        return port;
}

bool redis_server_installed(void)
{
        return system("command -v redis-server >/dev/null 2>&1") == 0;
}

int redis_server_prepare(struct redis_server *server)
{
        memset(server, 0, sizeof(*server));
        strcpy(server->directory, "/tmp/test_redis_server.XXXXXX");
        if (!mkdtemp(server->directory))
                return -1;
        server->port = redis_server_free_port();
        return 0;
}

int redis_server_ask(int port, const char *command, char *answer, size_t size)
{
        struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        struct timeval timeout = {5, 0};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        size_t used = 0;
        ssize_t n;

        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
        if (connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0 ||
            write(fd, command, strlen(command)) != (ssize_t)strlen(command) ||
            write(fd, "\r\n", 2) != 2) {
                close(fd);
                return -1;
        }
        while (used + 1 < size && (n = read(fd, answer + used, size - 1 - used)) > 0) {
                used += (size_t)n;
                answer[used] = '\0';
                if (strstr(answer, "\r\n"))
                        break;
        }
        close(fd);
        answer[used] = '\0';
        return used > 0 ? 0 : -1;
}

long long redis_server_integer(int port, const char *command)
{
        char answer[256];

        assert_int_equal(redis_server_ask(port, command, answer, sizeof(answer)), 0);
        if (answer[0] != ':')
                fail_msg("%s: %s", command, answer);
        return atoll(answer + 1);
}

void redis_server_start(struct redis_server *server)
{
        char port[16], answer[64], socket_path[128];
        double deadline = test_clock_seconds() + START_DEADLINE;

        snprintf(port, sizeof(port), "%d", server->port);
        snprintf(socket_path, sizeof(socket_path), "%s/redis.sock", server->directory);
        server->pid = fork();
        assert_true(server->pid >= 0);
        if (server->pid == 0) {
                int null = open("/dev/null", O_WRONLY);

                dup2(null, STDOUT_FILENO);
                execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
                       "--save", "", "--appendonly", "no", "--dir", server->directory,
                       "--stream-node-max-entries", "4", "--daemonize", "no", "--unixsocket",
                       socket_path, "--unixsocketperm", "700", (char *)NULL);
                _exit(127);
        }
        /* Poll until it answers: its start is another process's business, with no signal of its
         * own. */
        while (redis_server_ask(server->port, "PING", answer, sizeof(answer)) < 0 ||
               strncmp(answer, "+PONG", 5) != 0) {
                if (test_clock_seconds() > deadline)
                        fail_msg("redis-server on port %d does not answer PING", server->port);
                usleep(10000);
        }
}

void redis_server_kill(struct redis_server *server)
{
        if (server->pid <= 0)
                return;
        kill(server->pid, SIGKILL);
        waitpid(server->pid, NULL, 0);
        server->pid = 0;
}

void redis_server_cleanup(struct redis_server *server)
{
        char socket_path[128];

        redis_server_kill(server);
        if (!server->directory[0])
                return;
        snprintf(socket_path, sizeof(socket_path), "%s/redis.sock", server->directory);
        unlink(socket_path);
        rmdir(server->directory);
        server->directory[0] = '\0';
}
