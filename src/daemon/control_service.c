#include "control_service.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buffer.h"
#include "control_commands.h"
#include "control_host.h"
#include "frame.h"
#include "log.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

/* Control clients at once; more wait in the kernel backlog. */
#define CONTROL_CLIENTS_MAX 32
/*
 * "logs -f" streams at once: they are idle by nature and have no timeout,
 * so they may hold only half of the slots; the rest time out.
 */
#define CONTROL_FOLLOWERS_MAX 16
/* Seconds a client may hold a slot without a byte moving either way (streams excepted). */
#define CONTROL_IDLE_TIMEOUT 10.0
/* Refused peers are logged one line per this many seconds at most, with a count. */
#define CONTROL_DENIED_LOG_INTERVAL 10.0
/* Bytes read from a client per wake-up. */
#define CONTROL_READ_SIZE 4096
/* Output queued per client: room for two whole frames (a reply and streamed records). */
#define CONTROL_OUTPUT_MAX (2 * (FRAME_HEADER_SIZE + FRAME_PAYLOAD_MAX))
/* Supplementary groups of a peer looked at, at most. */
#define PEER_GROUPS_MAX 256

struct control_service;

struct control_client {
        struct control_service *control;
        struct control_client *next, *prev;
        int fd;
        ev_io read_watcher;
        ev_io write_watcher;
        struct control_caller caller;
        struct frame_decoder decoder;
        char input[CONTROL_READ_SIZE];
        size_t input_start, input_end;
        struct buffer output;
        bool following; /* "logs -f": each new record is sent */
        bool json;
        bool closing; /* close once the output is sent */
        bool at_eof;
        bool quiet;               /* refused: its end is not worth a line each */
        ev_tstamp last_activity;  /* last byte read or sent */
        uint64_t records_dropped; /* while following, for want of room */
};

/* Refused peers not logged yet, and the first of them (its uid and pid go in the line). */
struct control_denied {
        uint64_t unlogged;
        struct control_caller first;
        ev_tstamp last_log;
};

struct control_service {
        struct service_env env;
        struct control_client *clients;
        unsigned count;
        unsigned followers;
        uint64_t total;
        bool draining;
        struct control_denied denied;
        struct control_reply reply;  /* scratch: one request is answered at a time */
        struct control_reply record; /* scratch for streamed records (logged while answering) */
};

static void client_close(struct control_client *client, const char *reason);
static void process_input(struct control_client *client);

static void log_caller(const struct control_caller *caller, int priority, const char *format,
                       va_list ap) __attribute__((format(printf, 3, 0)));

static void log_caller(const struct control_caller *caller, int priority, const char *format,
                       va_list ap)
{
        char what[256], uid_field[32], pid_field[32];
        const char *fields[] = {"SERVICE=control", uid_field, pid_field, NULL};

        if (!log_enabled(priority))
                return;
        vsnprintf(what, sizeof(what), format, ap);
        snprintf(uid_field, sizeof(uid_field), "CONTROL_UID=%u", (unsigned)caller->uid);
        snprintf(pid_field, sizeof(pid_field), "CONTROL_PID=%d", (int)caller->pid);
        log_record(priority, NULL, fields, "control: %s (uid %u, pid %d)", what,
                   (unsigned)caller->uid, (int)caller->pid);
}

static void log_client(const struct control_client *client, int priority, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void log_client(const struct control_client *client, int priority, const char *format, ...)
{
        va_list ap;

        va_start(ap, format);
        log_caller(&client->caller, priority, format, ap);
        va_end(ap);
}

static void log_denied(const struct control_caller *caller, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void log_denied(const struct control_caller *caller, const char *format, ...)
{
        va_list ap;

        va_start(ap, format);
        log_caller(caller, LOG_WARNING, format, ap);
        va_end(ap);
}

/*
 * Log the refused peers counted so far: at once for the first after a quiet
 * spell, then one line per CONTROL_DENIED_LOG_INTERVAL (from the tick), as
 * the echo service summarises dropped datagrams. Anyone who can reach a lax
 * socket could otherwise write a warning per connect.
 */
static void flush_denied(struct control_service *control, bool force)
{
        struct control_denied *denied = &control->denied;
        ev_tstamp now = ev_now(control->env.loop);

        if (denied->unlogged == 0)
                return;
        if (!force && now - denied->last_log < CONTROL_DENIED_LOG_INTERVAL)
                return;
        if (denied->unlogged == 1)
                log_denied(&denied->first, "access denied");
        else
                log_denied(&denied->first,
                           "access denied to %" PRIu64 " more peers in %.0f s; the first of them",
                           denied->unlogged, now - denied->last_log);
        denied->unlogged = 0;
        denied->last_log = now;
}

static void note_denied(struct control_service *control, const struct control_caller *caller)
{
        struct control_denied *denied = &control->denied;

        if (denied->unlogged++ == 0)
                denied->first = *caller;
        flush_denied(control, false);
}

/* Queue one frame. 0, or -ENOBUFS when the client's output has no room for it. */
static int queue_frame(struct control_client *client, const char *payload, size_t length)
{
        unsigned char header[FRAME_HEADER_SIZE];
        size_t room = client->output.capacity - buffer_length(&client->output);

        if (length > FRAME_PAYLOAD_MAX || room < FRAME_HEADER_SIZE + length)
                return -ENOBUFS;
        frame_encode_header((uint32_t)length, header);
        if (buffer_append(&client->output, header, sizeof(header)) != (long)sizeof(header) ||
            buffer_append(&client->output, payload, length) != (long)length)
                return -ENOMEM;
        /* Sent from the write watcher: queueing never closes or frees a client. */
        ev_io_start(client->control->env.loop, &client->write_watcher);
        return 0;
}

static void on_writable(struct ev_loop *loop, ev_io *watcher, int revents)
{
        struct control_client *client = watcher->data;

        (void)revents;
        while (!buffer_empty(&client->output)) {
                size_t length;
                const char *data = buffer_head(&client->output, &length);
                ssize_t n = send(client->fd, data, length, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return;
                if (n < 0) {
                        client_close(client, strerror(errno));
                        return;
                }
                buffer_consume(&client->output, (size_t)n);
                client->last_activity = ev_now(loop);
        }
        ev_io_stop(loop, watcher);
        if (client->closing || client->at_eof) {
                client_close(client, NULL);
                return;
        }
        /* Requests wait while a reply is queued; go on with those already read. */
        if (!client->following) {
                ev_io_start(loop, &client->read_watcher);
                process_input(client);
        }
}

/* Answer a refused or broken request, then close. */
static void refuse(struct control_client *client, const char *reason)
{
        struct control_reply *reply = &client->control->reply;

        control_error_reply(client->json, reason, reply);
        queue_frame(client, reply->text, reply->length);
        client->closing = true;
        ev_io_stop(client->control->env.loop, &client->read_watcher);
}

static void answer(struct control_client *client, const char *request)
{
        struct control_service *control = client->control;
        struct control_outcome outcome;

        control_execute(control->env.control, &client->caller, request, &control->reply, &outcome);
        client->json = outcome.json;
        if (outcome.follow && control->followers >= CONTROL_FOLLOWERS_MAX) {
                char reason[64];

                snprintf(reason, sizeof(reason), "too many log streams (%d at most)",
                         CONTROL_FOLLOWERS_MAX);
                log_client(client, LOG_NOTICE, "too many log streams; closing");
                refuse(client, reason);
                return;
        }
        if (queue_frame(client, control->reply.text, control->reply.length) < 0) {
                refuse(client, "reply does not fit");
                return;
        }
        if (outcome.follow) {
                client->following = true;
                control->followers++;
                /* A follower sends nothing more; reading only tells when it goes. */
        }
        if (control->draining)
                client->closing = true;
}

/* Decode and answer the requests read so far, one at a time. */
static void process_input(struct control_client *client)
{
        while (client->input_start < client->input_end && !client->closing) {
                size_t used;
                int r;

                /* One reply in flight at a time: that bounds what a client makes us queue. */
                if (!buffer_empty(&client->output) && !client->following) {
                        ev_io_stop(client->control->env.loop, &client->read_watcher);
                        return;
                }
                if (client->following) {
                        client->input_start = client->input_end; /* ignored */
                        return;
                }
                r = frame_decoder_feed(&client->decoder, client->input + client->input_start,
                                       client->input_end - client->input_start, &used);
                client->input_start += used;
                if (r == -EMSGSIZE) {
                        log_client(client, LOG_WARNING, "frame too large; closing");
                        refuse(client, "frame too large (64 KiB at most)");
                        return;
                }
                if (r < 0) {
                        log_client(client, LOG_WARNING, "frame is not UTF-8 text; closing");
                        refuse(client, "frame is not UTF-8 text");
                        return;
                }
                if (r == FRAME_READY) {
                        answer(client, frame_decoder_payload(&client->decoder, NULL));
                        frame_decoder_reset(&client->decoder);
                }
        }
        if (client->input_start == client->input_end)
                client->input_start = client->input_end = 0;
}

static void on_readable(struct ev_loop *loop, ev_io *watcher, int revents)
{
        struct control_client *client = watcher->data;
        ssize_t n;

        (void)revents;
        if (client->input_start < client->input_end) {
                process_input(client);
                return;
        }
        n = recv(client->fd, client->input, sizeof(client->input), MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
                return;
        if (n < 0) {
                client_close(client, strerror(errno));
                return;
        }
        if (n == 0) {
                ev_io_stop(loop, watcher);
                client->at_eof = true;
                if (frame_decoder_partial(&client->decoder))
                        log_client(client, LOG_WARNING, "truncated frame; closing");
                /* A follower that goes, or a client done asking: close once the output is out. */
                if (client->following || buffer_empty(&client->output))
                        client_close(client, NULL);
                return;
        }
        client->last_activity = ev_now(loop);
        client->input_start = 0;
        client->input_end = (size_t)n;
        process_input(client);
}

static void client_close(struct control_client *client, const char *reason)
{
        struct control_service *control = client->control;

        if (reason && !client->quiet)
                log_client(client, LOG_INFO, "connection closed: %s", reason);
        if (client->following)
                control->followers--;
        ev_io_stop(control->env.loop, &client->read_watcher);
        ev_io_stop(control->env.loop, &client->write_watcher);
        close(client->fd);
        if (client->prev)
                client->prev->next = client->next;
        else
                control->clients = client->next;
        if (client->next)
                client->next->prev = client->prev;
        buffer_fini(&client->output);
        free(client);
        control->count--;
        control->env.connection_closed(control->env.server);
}

/* Root, our own user, and members of our group (primary or supplementary) may connect. */
static bool peer_allowed(int fd, const struct ucred *cred)
{
        gid_t groups[PEER_GROUPS_MAX];
        socklen_t length = sizeof(groups);

        if (cred->uid == 0 || cred->uid == geteuid() || cred->gid == getegid())
                return true;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &length) < 0)
                return false;
        for (size_t i = 0; i < length / sizeof(gid_t); i++) {
                if (groups[i] == getegid())
                        return true;
        }
        return false;
}

static int control_connection(void *state, int fd, const struct sockaddr *peer, socklen_t length)
{
        struct control_service *control = state;
        struct control_client *client;
        struct ucred cred;
        socklen_t cred_length = sizeof(cred);

        (void)peer;
        (void)length;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_length) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        client = calloc(1, sizeof(*client));
        if (!client) {
                close(fd);
                return -ENOMEM;
        }
        client->control = control;
        client->fd = fd;
        client->last_activity = ev_now(control->env.loop);
        client->caller =
            (struct control_caller){.uid = cred.uid, .pid = cred.pid, .channel = "socket"};
        frame_decoder_init(&client->decoder);
        buffer_init(&client->output, CONTROL_OUTPUT_MAX);
        ev_io_init(&client->read_watcher, on_readable, fd, EV_READ);
        ev_io_init(&client->write_watcher, on_writable, fd, EV_WRITE);
        client->read_watcher.data = client->write_watcher.data = client;
        client->next = control->clients;
        if (control->clients)
                control->clients->prev = client;
        control->clients = client;
        control->count++;
        control->total++;
        if (!peer_allowed(fd, &cred)) {
                note_denied(control, &client->caller);
                client->quiet = true;
                refuse(client, "access denied");
                return 0;
        }
        log_client(client, LOG_DEBUG, "connected");
        if (control->draining)
                refuse(client, "echod is stopping");
        else
                ev_io_start(control->env.loop, &client->read_watcher);
        return 0;
}

/* A new log record: queue it to every follower (never sends or closes here; see queue_frame). */
static void on_record(void *arg, const char *line)
{
        struct control_service *control = arg;

        for (struct control_client *client = control->clients; client; client = client->next) {
                if (!client->following || client->closing)
                        continue;
                /* Say what a slow reader missed, once there is room again. */
                if (client->records_dropped > 0) {
                        char note[96];

                        snprintf(note, sizeof(note),
                                 "(%" PRIu64 " record%s dropped: reading too slowly)",
                                 client->records_dropped, client->records_dropped == 1 ? "" : "s");
                        control_format_record(client->json, note, &control->record);
                        if (queue_frame(client, control->record.text, control->record.length) == 0)
                                client->records_dropped = 0;
                }
                control_format_record(client->json, line, &control->record);
                if (client->records_dropped > 0 ||
                    queue_frame(client, control->record.text, control->record.length) < 0)
                        client->records_dropped++;
        }
}

static int control_init(void **state, const struct service_env *env)
{
        struct control_service *control;

        if (!env->control)
                return -EINVAL;
        control = calloc(1, sizeof(*control));
        if (!control)
                return -ENOMEM;
        control->env = *env;
        log_ring_observe(env->control->logs, on_record, control);
        *state = control;
        return 0;
}

/* Once a second: close the clients that hold a slot doing nothing, and log refusals. */
static void control_tick(void *state)
{
        struct control_service *control = state;
        ev_tstamp now = ev_now(control->env.loop);
        struct control_client *client = control->clients, *next;

        for (; client; client = next) {
                next = client->next;
                /* A log stream waits for records by design; it only counts against its own cap. */
                if (!client->following && now - client->last_activity >= CONTROL_IDLE_TIMEOUT)
                        client_close(client, "idle timeout");
        }
        flush_denied(control, false);
}

static bool control_has_room(void *state)
{
        struct control_service *control = state;

        return control->count < CONTROL_CLIENTS_MAX;
}

/* Stopping: answer what was asked, end every stream, take nothing new. */
static void control_drain(void *state)
{
        struct control_service *control = state;

        control->draining = true;
        for (struct control_client *client = control->clients; client; client = client->next) {
                client->closing = true;
                ev_io_stop(control->env.loop, &client->read_watcher);
                /* The write watcher closes it once its output (maybe empty) is sent. */
                ev_io_start(control->env.loop, &client->write_watcher);
        }
}

static void control_close_all(void *state, const char *reason)
{
        struct control_service *control = state;

        (void)reason;
        while (control->clients)
                client_close(control->clients, NULL);
}

static void control_reload(void *state, const struct config *config)
{
        (void)state;
        (void)config;
}

static void control_counts(void *state, struct service_counts *counts)
{
        struct control_service *control = state;

        /* Open clients hold up a drain; they are not "connections served" in the stop record. */
        *counts = (struct service_counts){.open = control->count};
}

static void control_status(void *state, char *buf, size_t size)
{
        struct control_service *control = state;

        snprintf(buf, size, "control: %u client%s (%" PRIu64 " since start)", control->count,
                 control->count == 1 ? "" : "s", control->total);
}

static void control_fini(void *state)
{
        struct control_service *control = state;

        log_ring_observe(control->env.control->logs, NULL, NULL);
        flush_denied(control, true);
        control->env.connection_closed = NULL;
        while (control->clients) {
                struct control_client *client = control->clients;

                control->clients = client->next;
                ev_io_stop(control->env.loop, &client->read_watcher);
                ev_io_stop(control->env.loop, &client->write_watcher);
                close(client->fd);
                buffer_fini(&client->output);
                free(client);
        }
        free(control);
}

static const char *const control_socket_names[] = {"control", NULL};

const struct service_ops control_service_ops = {
    .name = "control",
    .socket_names = control_socket_names,
    .init = control_init,
    .connection = control_connection,
    .has_room = control_has_room,
    .drain = control_drain,
    .close_all = control_close_all,
    .reload = control_reload,
    .tick = control_tick,
    .counts = control_counts,
    .status = control_status,
    .fini = control_fini,
};
