/*
 * The floor: the plainest single-threaded epoll echo server, for comparison
 * only (bench/compare.py builds and runs it as "epoll"). One recv and one
 * send per readable event, level-triggered, nothing else: no timers, no
 * logging, no limits. A partial send parks the rest and waits for EPOLLOUT.
 *
 * Usage: epoll_echo [PORT]   (on 127.0.0.1; 0 or nothing picks a free port)
 * Prints "listening echo/tcp 127.0.0.1:PORT" once serving, like echod.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFFER_SIZE 65536

struct pending {
        size_t offset;
        size_t length;
        char data[BUFFER_SIZE];
};

static char scratch[BUFFER_SIZE];

static void watch(int epoll_fd, int op, int fd, unsigned events, void *ptr)
{
        struct epoll_event event = {.events = events, .data.ptr = ptr};

        epoll_ctl(epoll_fd, op, fd, &event);
}

/* Per connection: its fd and, while the peer is slow, what it has not taken yet. */
struct connection {
        int fd;
        struct pending *pending;
};

static void drop(int epoll_fd, struct connection *c)
{
        epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        free(c->pending);
        free(c);
}

static void on_writable(int epoll_fd, struct connection *c)
{
        struct pending *p = c->pending;
        ssize_t n = send(c->fd, p->data + p->offset, p->length, MSG_NOSIGNAL);

        if (n < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        drop(epoll_fd, c);
                return;
        }
        p->offset += (size_t)n;
        p->length -= (size_t)n;
        if (p->length == 0)
                watch(epoll_fd, EPOLL_CTL_MOD, c->fd, EPOLLIN, c);
}

static void on_readable(int epoll_fd, struct connection *c)
{
        ssize_t n = recv(c->fd, scratch, sizeof(scratch), 0);
        ssize_t sent;

        if (n <= 0) {
                if (n == 0 || (errno != EAGAIN && errno != EINTR))
                        drop(epoll_fd, c);
                return;
        }
        sent = send(c->fd, scratch, (size_t)n, MSG_NOSIGNAL);
        if (sent < 0) {
                if (errno != EAGAIN) {
                        drop(epoll_fd, c);
                        return;
                }
                sent = 0;
        }
        if (sent == n)
                return;
        /* The peer is slow: park the rest and stop reading until it is sent. */
        if (!c->pending && !(c->pending = malloc(sizeof(*c->pending)))) {
                drop(epoll_fd, c);
                return;
        }
        c->pending->offset = 0;
        c->pending->length = (size_t)(n - sent);
        memcpy(c->pending->data, scratch + sent, c->pending->length);
        watch(epoll_fd, EPOLL_CTL_MOD, c->fd, EPOLLOUT, c);
}

int main(int argc, char **argv)
{
        struct sockaddr_in addr = {.sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(addr);
        struct epoll_event events[256];
        int listen_fd, epoll_fd, one = 1;

        addr.sin_port = htons((unsigned short)(argc > 1 ? atoi(argv[1]) : 0));
        listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (listen_fd < 0 || epoll_fd < 0 ||
            setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
            listen(listen_fd, 4096) < 0 ||
            getsockname(listen_fd, (struct sockaddr *)&addr, &len) < 0) {
                perror("epoll_echo");
                return 1;
        }
        printf("listening echo/tcp 127.0.0.1:%u\n", ntohs(addr.sin_port));
        fflush(stdout);
        watch(epoll_fd, EPOLL_CTL_ADD, listen_fd, EPOLLIN, NULL);
        for (;;) {
                int n = epoll_wait(epoll_fd, events, 256, -1);

                for (int i = 0; i < n; i++) {
                        struct connection *c = events[i].data.ptr;

                        if (!c) {
                                int fd =
                                    accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                                if (fd < 0)
                                        continue;
                                c = calloc(1, sizeof(*c));
                                if (!c) {
                                        close(fd);
                                        continue;
                                }
                                c->fd = fd;
                                watch(epoll_fd, EPOLL_CTL_ADD, fd, EPOLLIN, c);
                        } else if (events[i].events & EPOLLOUT) {
                                on_writable(epoll_fd, c);
                        } else {
                                on_readable(epoll_fd, c);
                        }
                }
        }
}
