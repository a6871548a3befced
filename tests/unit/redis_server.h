#ifndef ECHOD_TEST_REDIS_SERVER_H
#define ECHOD_TEST_REDIS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * A real redis-server for unit tests: on a free loopback port, with a temp
 * directory of its own (holding its unix socket, redis.sock) and no
 * persistence (--save ''), so each test starts on an empty Redis. Shared
 * by the store contract suite and the Redis backend's own tests.
 */
struct redis_server {
        char directory[64];
        int port;
        pid_t pid;
};

/* A loopback TCP port nobody listens on at the time of the call. */
int redis_server_free_port(void);

/* True when redis-server is on PATH. */
bool redis_server_installed(void);

/* Make the directory and pick the port (the server is started by redis_server_start). */
int redis_server_prepare(struct redis_server *server);

/* Start it on its port and wait until it answers PING; fails the test if it does not. */
void redis_server_start(struct redis_server *server);

/* SIGKILL it and reap it (a no-op if it is not running). */
void redis_server_kill(struct redis_server *server);

/* Kill it and remove its directory. */
void redis_server_cleanup(struct redis_server *server);

/* Send one inline command, read the first line of the answer. Returns 0, or -1 if nobody answers.
 */
int redis_server_ask(int port, const char *command, char *answer, size_t size);

/* Send one inline command whose answer is an integer; fails the test otherwise. */
long long redis_server_integer(int port, const char *command);

/* The monotonic clock in seconds, for a wait's deadline. */
double test_clock_seconds(void);

/* The wall clock in milliseconds since the epoch, as the store's times are. */
uint64_t test_clock_wall_ms(void);

struct ev_loop;
struct ev_timer;

/* A timer callback that does nothing: it wakes a loop now and then, so that a wait can check its
 * deadline. */
void test_loop_tick(struct ev_loop *loop, struct ev_timer *timer, int revents);

#endif
