#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "net.h"

static void observe(struct client *client, enum client_event_kind kind, size_t bytes, int error)
{
        struct client_event event = {
            .kind = kind,
            .peer = (const struct sockaddr *)&client->peer,
            .local = (const struct sockaddr *)&client->local,
            .bytes = bytes,
            .error = error,
        };

        if (client->observe)
                client->observe(client->observe_arg, &event);
}

static void teardown(struct client *client)
{
        ev_io_stop(client->loop, &client->read_watcher);
        ev_io_stop(client->loop, &client->write_watcher);
        ev_timer_stop(client->loop, &client->connect_timer);
        if (client->fd >= 0)
                close(client->fd);
        client->fd = -1;
        client->connected = false;
}

/* The connection ended without the session asking: tell it once. */
static void finish(struct client *client, int error)
{
        teardown(client);
        client->ops->closed(client, error);
}

static void update_read_watcher(struct client *client)
{
        if (client->fd < 0 || !client->connected)
                return;
        if (client->reading_paused)
                ev_io_stop(client->loop, &client->read_watcher);
        else
                ev_io_start(client->loop, &client->read_watcher);
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
        struct client *client = w->data;
        ssize_t n;

        (void)loop;
        (void)revents;
        n = recv(client->fd, client->read_buffer, CLIENT_READ_MAX, 0);
        if (n < 0) {
                if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                        return;
                finish(client, -errno);
                return;
        }
        if (n == 0 && !client->udp) {
                observe(client, CLIENT_EVENT_CLOSED_BY_PEER, 0, 0);
                finish(client, 0);
                return;
        }
        client->bytes_received += (uint64_t)n;
        observe(client, CLIENT_EVENT_RECEIVED, (size_t)n, 0);
        client->ops->received(client, client->read_buffer, (size_t)n);
}

/* Send what is queued; 0, or -errno for a broken connection. */
static int flush(struct client *client)
{
        while (client->send_len > 0) {
                ssize_t n = send(client->fd, client->send_buffer + client->send_start,
                                 client->send_len, MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
                                break;
                        return -errno;
                }
                observe(client, CLIENT_EVENT_SENT, (size_t)n, 0);
                client->bytes_sent += (uint64_t)n;
                /* A datagram goes whole or not at all. */
                client->send_start += (size_t)n;
                client->send_len -= (size_t)n;
        }
        if (client->send_len > 0) {
                ev_io_start(client->loop, &client->write_watcher);
                return 0;
        }
        client->send_start = 0;
        ev_io_stop(client->loop, &client->write_watcher);
        if (client->shutdown_pending && !client->write_shut) {
                if (shutdown(client->fd, SHUT_WR) < 0)
                        return -errno;
                client->write_shut = true;
                observe(client, CLIENT_EVENT_HALF_CLOSED, 0, 0);
        }
        return 0;
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
        struct client *client = w->data;
        int r;

        (void)loop;
        (void)revents;
        if (client->last_error) {
                finish(client, client->last_error);
                return;
        }
        r = flush(client);
        if (r < 0) {
                finish(client, r);
                return;
        }
        if (client->send_len == 0)
                client->ops->writable(client);
}

static void connected(struct client *client)
{
        socklen_t len = sizeof(client->local);

        ev_timer_stop(client->loop, &client->connect_timer);
        ev_io_stop(client->loop, &client->write_watcher);
        getsockname(client->fd, (struct sockaddr *)&client->local, &len);
        client->connected = true;
        ev_io_init(&client->read_watcher, on_read, client->fd, EV_READ);
        ev_io_init(&client->write_watcher, on_write, client->fd, EV_WRITE);
        update_read_watcher(client);
        observe(client, CLIENT_EVENT_CONNECTED, 0, 0);
        client->ops->connected(client);
}

static void try_next(struct client *client);

static void attempt_failed(struct client *client, int error)
{
        teardown(client);
        client->last_error = error;
        observe(client, CLIENT_EVENT_CONNECT_FAILED, 0, error);
        try_next(client);
}

static void on_connect(struct ev_loop *loop, ev_io *w, int revents)
{
        struct client *client = w->data;
        int r = net_connect_result(client->fd);

        (void)loop;
        (void)revents;
        if (r < 0)
                attempt_failed(client, r);
        else
                connected(client);
}

static void on_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)loop;
        (void)revents;
        attempt_failed(w->data, -ETIMEDOUT);
}

/*
 * The local address to bind before connecting to ai, in *out: the first of
 * client->sources of ai's family, or the wildcard address, with the source
 * port. Returns 1 when there is one to bind, 0 when the kernel may choose,
 * -EAFNOSUPPORT when no source address has ai's family.
 */
static int source_for(const struct client *client, const struct addrinfo *ai,
                      struct sockaddr_storage *out, socklen_t *len)
{
        memset(out, 0, sizeof(*out));
        if (client->sources) {
                const struct addrinfo *src = client->sources;

                while (src && src->ai_family != ai->ai_family)
                        src = src->ai_next;
                if (!src)
                        return -EAFNOSUPPORT;
                memcpy(out, src->ai_addr, src->ai_addrlen);
                *len = src->ai_addrlen;
        } else if (client->source_port) {
                out->ss_family = (sa_family_t)ai->ai_family;
                *len = ai->ai_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                 : sizeof(struct sockaddr_in);
        } else {
                return 0;
        }
        addr_set_port((struct sockaddr *)out, client->source_port);
        return 1;
}

static void try_next(struct client *client)
{
        while (client->next_address) {
                const struct addrinfo *ai = client->next_address;
                struct sockaddr_storage source;
                socklen_t source_len = 0;
                int fd, r;

                client->next_address = ai->ai_next;
                memset(&client->peer, 0, sizeof(client->peer));
                memcpy(&client->peer, ai->ai_addr, ai->ai_addrlen);
                observe(client, CLIENT_EVENT_CONNECTING, 0, 0);
                r = source_for(client, ai, &source, &source_len);
                if (r < 0) {
                        client->last_error = r;
                        observe(client, CLIENT_EVENT_CONNECT_FAILED, 0, r);
                        continue;
                }
                r = net_connect_start_from(ai->ai_addr, ai->ai_addrlen, ai->ai_socktype,
                                           r ? (struct sockaddr *)&source : NULL, source_len, &fd);
                if (fd < 0) {
                        client->last_error = r;
                        observe(client, CLIENT_EVENT_CONNECT_FAILED, 0, client->last_error);
                        continue;
                }
                client->fd = fd;
                client->last_error = 0;
                if (r == 0) {
                        connected(client);
                        return;
                }
                if (r != -EINPROGRESS) {
                        int error = r;

                        teardown(client);
                        client->last_error = error;
                        observe(client, CLIENT_EVENT_CONNECT_FAILED, 0, error);
                        continue;
                }
                ev_io_init(&client->write_watcher, on_connect, fd, EV_WRITE);
                ev_io_start(client->loop, &client->write_watcher);
                if (client->timeout > 0) {
                        ev_timer_set(&client->connect_timer, client->timeout, 0.0);
                        ev_timer_start(client->loop, &client->connect_timer);
                }
                return;
        }
        finish(client, client->last_error ? client->last_error : -EHOSTUNREACH);
}

int client_start(struct client *client, struct ev_loop *loop, const struct addrinfo *addresses,
                 bool udp, double timeout, const struct client_ops *ops, void *session)
{
        client->loop = loop;
        client->ops = ops;
        client->session = session;
        client->fd = -1;
        client->udp = udp;
        client->timeout = timeout;
        client->next_address = addresses;
        client->send_buffer = malloc(udp ? CLIENT_DATAGRAM_MAX : CLIENT_SEND_MAX);
        client->read_buffer = malloc(CLIENT_READ_MAX);
        if (!client->send_buffer || !client->read_buffer) {
                client_fini(client);
                return -ENOMEM;
        }
        client->read_watcher.data = client;
        client->write_watcher.data = client;
        ev_init(&client->connect_timer, on_connect_timeout);
        client->connect_timer.data = client;
        try_next(client);
        return 0;
}

size_t client_send_room(const struct client *client)
{
        if (client->fd < 0 || !client->connected || client->shutdown_pending)
                return 0;
        if (client->udp)
                return client->send_len ? 0 : CLIENT_DATAGRAM_MAX;
        return CLIENT_SEND_MAX - client->send_len;
}

ssize_t client_send(struct client *client, const void *data, size_t len)
{
        size_t room = client_send_room(client);
        int r;

        if (client->fd < 0 || !client->connected)
                return -ENOTCONN;
        if (client->udp) {
                if (room == 0 || len > room)
                        return room == 0 ? 0 : -EMSGSIZE;
        } else if (len > room) {
                len = room;
        }
        if (len == 0 && !client->udp)
                return 0;
        /* Keep the queue at the front of the buffer so the room is all at the end. */
        if (client->send_start > 0) {
                memmove(client->send_buffer, client->send_buffer + client->send_start,
                        client->send_len);
                client->send_start = 0;
        }
        memcpy(client->send_buffer + client->send_len, data, len);
        client->send_len += len;
        if (client->udp && len == 0) {
                /* An empty datagram is legal; send() it directly, there is nothing to queue. */
                if (send(client->fd, data, 0, MSG_NOSIGNAL) == 0)
                        observe(client, CLIENT_EVENT_SENT, 0, 0);
                return 0;
        }
        r = flush(client);
        if (r < 0) {
                /*
                 * The connection broke. Report it from the event loop, not from
                 * inside the session's call, so the session sees it in one place.
                 */
                client->last_error = r;
                ev_io_start(client->loop, &client->write_watcher);
        }
        return (ssize_t)len;
}

void client_shutdown_write(struct client *client)
{
        int r;

        if (client->udp || client->fd < 0 || client->shutdown_pending)
                return;
        client->shutdown_pending = true;
        if (client->send_len == 0) {
                r = flush(client);
                if (r < 0) {
                        client->last_error = r;
                        ev_io_start(client->loop, &client->write_watcher);
                }
        }
}

void client_pause_reading(struct client *client, bool paused)
{
        client->reading_paused = paused;
        update_read_watcher(client);
}

void client_close(struct client *client)
{
        if (client->fd < 0)
                return;
        observe(client, CLIENT_EVENT_CLOSED_BY_USER, 0, 0);
        teardown(client);
}

void client_fini(struct client *client)
{
        free(client->send_buffer);
        free(client->read_buffer);
        client->send_buffer = NULL;
        client->read_buffer = NULL;
}
