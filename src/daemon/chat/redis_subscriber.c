#include "redis_subscriber.h"

#include <errno.h>
#include <hiredis/read.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net.h"
#include "resolve.h"

struct redis_subscriber {
        struct ev_loop *loop;
        int fd;
        ev_io read_watcher, write_watcher;
        bool connected;
        redisReader *reader;
        /* The reader's functions, with arrays capped (the reader itself has no limit). */
        redisReplyObjectFunctions functions;
        void *(*create_array)(const redisReadTask *task, int elements);
        bool too_many_elements;
        char output[REDIS_SUBSCRIBER_OUTPUT_MAX];
        size_t output_length;
        int dispatching; /* inside one of the callbacks */
        bool doomed;     /* freed inside a callback: free once it returns */
        const struct redis_subscriber_events *events;
        void *data;
};

static void *create_capped_array(const redisReadTask *task, int elements)
{
        struct redis_subscriber *subscriber = task->privdata;

        if (elements > REDIS_SUBSCRIBER_ELEMENTS_MAX) {
                subscriber->too_many_elements = true;
                return NULL; /* the reader stops with an error */
        }
        return subscriber->create_array(task, elements);
}

static void close_socket(struct redis_subscriber *subscriber)
{
        ev_io_stop(subscriber->loop, &subscriber->read_watcher);
        ev_io_stop(subscriber->loop, &subscriber->write_watcher);
        if (subscriber->fd >= 0)
                close(subscriber->fd);
        subscriber->fd = -1;
}

static void destroy(struct redis_subscriber *subscriber)
{
        close_socket(subscriber);
        if (subscriber->reader)
                redisReaderFree(subscriber->reader);
        free(subscriber);
}

/* After a callback: true if the subscriber was freed meanwhile (then it is gone). */
static bool leave_callback(struct redis_subscriber *subscriber)
{
        if (--subscriber->dispatching > 0 || !subscriber->doomed)
                return subscriber->doomed;
        destroy(subscriber);
        return true;
}

/* The connection is gone: tell once, then free. */
static void lose(struct redis_subscriber *subscriber, const char *reason)
{
        close_socket(subscriber);
        subscriber->dispatching++;
        subscriber->events->lost(subscriber->data, reason);
        subscriber->doomed = true;
        leave_callback(subscriber);
}

static void lose_errno(struct redis_subscriber *subscriber, const char *what, int error)
{
        char reason[128];

        snprintf(reason, sizeof(reason), "%s: %s", what, strerror(error));
        lose(subscriber, reason);
}

static void flush(struct redis_subscriber *subscriber)
{
        while (subscriber->output_length) {
                ssize_t n = send(subscriber->fd, subscriber->output, subscriber->output_length,
                                 MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                break;
                        lose_errno(subscriber, "write", errno);
                        return;
                }
                memmove(subscriber->output, subscriber->output + n,
                        subscriber->output_length - (size_t)n);
                subscriber->output_length -= (size_t)n;
        }
        if (subscriber->output_length)
                ev_io_start(subscriber->loop, &subscriber->write_watcher);
        else
                ev_io_stop(subscriber->loop, &subscriber->write_watcher);
}

static void on_writable(struct ev_loop *loop, ev_io *watcher, int revents)
{
        struct redis_subscriber *subscriber = watcher->data;
        int r;

        (void)loop;
        (void)revents;
        if (!subscriber->connected) {
                r = net_connect_result(subscriber->fd);
                if (r < 0) {
                        lose_errno(subscriber, "connect", -r);
                        return;
                }
                subscriber->connected = true;
                ev_io_start(subscriber->loop, &subscriber->read_watcher);
                subscriber->dispatching++;
                subscriber->events->connected(subscriber->data);
                if (leave_callback(subscriber))
                        return;
        }
        flush(subscriber);
}

/* Hand every whole reply the reader holds to the caller. */
static void dispatch(struct redis_subscriber *subscriber)
{
        for (;;) {
                void *reply = NULL;

                if (redisReaderGetReply(subscriber->reader, &reply) != REDIS_OK) {
                        lose(subscriber, subscriber->too_many_elements
                                             ? "a reply with too many elements"
                                             : subscriber->reader->errstr);
                        return;
                }
                if (!reply)
                        break;
                subscriber->dispatching++;
                subscriber->events->reply(subscriber->data, reply);
                freeReplyObject(reply);
                if (leave_callback(subscriber))
                        return;
        }
        /* What is left is part of one reply: bounded, as a peer could send one without end. */
        if (subscriber->reader->len - subscriber->reader->pos > REDIS_SUBSCRIBER_INPUT_MAX)
                lose(subscriber, "a reply too long");
}

static void on_readable(struct ev_loop *loop, ev_io *watcher, int revents)
{
        struct redis_subscriber *subscriber = watcher->data;
        char buffer[16384];
        ssize_t n;

        (void)loop;
        (void)revents;
        n = recv(subscriber->fd, buffer, sizeof(buffer), 0);
        if (n < 0) {
                if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
                        lose_errno(subscriber, "read", errno);
                return;
        }
        if (n == 0) {
                lose(subscriber, "closed by the server");
                return;
        }
        if (redisReaderFeed(subscriber->reader, buffer, (size_t)n) != REDIS_OK) {
                lose(subscriber, "out of memory");
                return;
        }
        dispatch(subscriber);
}

/* Start a connect to the first address that takes one. Returns 0, -EINPROGRESS or -errno. */
static int start_connect(struct redis_subscriber *subscriber, const struct redis_address *address,
                         char *reason, size_t size)
{
        struct addrinfo *list = NULL;
        const char *why;
        char port[8];
        int r;

        if (address->path[0]) {
                struct sockaddr_un unix_address = {.sun_family = AF_UNIX};

                snprintf(unix_address.sun_path, sizeof(unix_address.sun_path), "%s", address->path);
                r = net_connect_start((const struct sockaddr *)&unix_address, sizeof(unix_address),
                                      SOCK_STREAM, &subscriber->fd);
                snprintf(reason, size, "connect: %s", strerror(-r));
                return r;
        }
        snprintf(port, sizeof(port), "%d", address->port);
        r = resolve_addresses(address->host, port, AF_UNSPEC, SOCK_STREAM, &list, &why);
        if (r < 0) {
                snprintf(reason, size, "%s", why);
                return r;
        }
        r = -ENOENT;
        for (const struct addrinfo *each = list; each; each = each->ai_next) {
                if (subscriber->fd >= 0)
                        close(subscriber->fd);
                subscriber->fd = -1;
                r = net_connect_start(each->ai_addr, each->ai_addrlen, SOCK_STREAM,
                                      &subscriber->fd);
                if (r == 0 || r == -EINPROGRESS) {
                        (void)net_keepalive(subscriber->fd, REDIS_TCP_KEEPALIVE_IDLE,
                                            REDIS_TCP_KEEPALIVE_INTERVAL,
                                            REDIS_TCP_KEEPALIVE_COUNT);
                        break;
                }
        }
        freeaddrinfo(list);
        snprintf(reason, size, "connect: %s", strerror(-r));
        return r;
}

int redis_subscriber_open(struct ev_loop *loop, const struct redis_address *address,
                          const struct redis_subscriber_events *events, void *data,
                          struct redis_subscriber **out, char *reason, size_t size)
{
        struct redis_subscriber *subscriber = calloc(1, sizeof(*subscriber));
        int r;

        snprintf(reason, size, "out of memory");
        if (!subscriber)
                return -ENOMEM;
        subscriber->loop = loop;
        subscriber->fd = -1;
        subscriber->events = events;
        subscriber->data = data;
        subscriber->reader = redisReaderCreate();
        if (!subscriber->reader) {
                free(subscriber);
                return -ENOMEM;
        }
        subscriber->functions = *subscriber->reader->fn;
        subscriber->create_array = subscriber->functions.createArray;
        subscriber->functions.createArray = create_capped_array;
        subscriber->reader->fn = &subscriber->functions;
        redisReaderSetPrivdata(subscriber->reader, subscriber);
        r = start_connect(subscriber, address, reason, size);
        if (r < 0 && r != -EINPROGRESS) {
                destroy(subscriber);
                return r;
        }
        ev_io_init(&subscriber->read_watcher, on_readable, subscriber->fd, EV_READ);
        ev_io_init(&subscriber->write_watcher, on_writable, subscriber->fd, EV_WRITE);
        subscriber->read_watcher.data = subscriber->write_watcher.data = subscriber;
        /* Connected at once or not, the first writable event says so on the loop. */
        ev_io_start(loop, &subscriber->write_watcher);
        *out = subscriber;
        return 0;
}

bool redis_subscriber_is_connected(const struct redis_subscriber *subscriber)
{
        return subscriber->connected;
}

int redis_subscriber_send(struct redis_subscriber *subscriber, int argc, const char **argv)
{
        char *command = NULL;
        int length;

        if (!subscriber->connected || subscriber->fd < 0)
                return -ENOTCONN;
        length = redisFormatCommandArgv(&command, argc, argv, NULL);
        if (length < 0)
                return -ENOMEM;
        if ((size_t)length > sizeof(subscriber->output) - subscriber->output_length) {
                redisFreeCommand(command);
                return -ENOBUFS;
        }
        memcpy(subscriber->output + subscriber->output_length, command, (size_t)length);
        subscriber->output_length += (size_t)length;
        redisFreeCommand(command);
        ev_io_start(subscriber->loop, &subscriber->write_watcher);
        return 0;
}

void redis_subscriber_free(struct redis_subscriber *subscriber)
{
        if (!subscriber)
                return;
        if (subscriber->dispatching) {
                close_socket(subscriber);
                subscriber->doomed = true;
                return;
        }
        destroy(subscriber);
}
