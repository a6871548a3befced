#include "redis_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/adapters/libev.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>

#include "log.h"
#include "net.h"
#include "store_redis.h"

/*
 * The Redis backend's connections. Two asynchronous ones live on the loop:
 * commands (hiredis), and the subscriber (redis_subscriber.c; a subscribed
 * connection takes no other command). Both are PINGed every second and
 * dropped when one leaves it unanswered for 5 s, so that a connection cut
 * silently is noticed within 7 s. The backend is available while both are
 * up; on the loss of either it logs one warning, ends what was pending on it, and reconnects
 * with a backoff that doubles from 0.1 s to 5 s, logging once when it is
 * back. The blocking connection serves only the operator's synchronous
 * calls, with a 1 s timeout. A host name is looked up off the loop
 * (redis_resolver.c) before each reconnect, and the connections are made
 * to the address found: hiredis's own lookup would block the loop.
 */

#define BACKOFF_MIN     0.1 /* seconds */
#define BACKOFF_MAX     5.0
#define SYNC_TIMEOUT    1   /* seconds */
#define HEALTH_INTERVAL 1.0 /* seconds between PINGs on the command connection */
#define ANSWER_TIMEOUT  5.0 /* seconds a connection may leave a PING or a connect unanswered */

static void connect_missing(struct redis_backend *backend);
static void connection_closed(struct redis_backend *backend);

static void set_cloexec(int fd)
{
        int flags = fcntl(fd, F_GETFD);

        if (flags >= 0)
                fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

static const char *target(const struct redis_backend *backend, char *text, size_t size)
{
        if (backend->address.path[0])
                snprintf(text, size, "unix:%s", backend->address.path);
        else
                snprintf(text, size, "%s:%d/%d", backend->address.host, backend->address.port,
                         backend->address.db);
        return text;
}

static void schedule_reconnect(struct redis_backend *backend)
{
        if (backend->freeing || ev_is_active(&backend->reconnect_timer))
                return;
        ev_timer_set(&backend->reconnect_timer, backend->backoff, 0.);
        ev_timer_start(backend->loop, &backend->reconnect_timer);
        backend->backoff *= 2;
        if (backend->backoff > BACKOFF_MAX)
                backend->backoff = BACKOFF_MAX;
}

/* A reason for a log line or an error reply; a long one is cut, which is fine there. */
__attribute__((format(printf, 3, 4))) static void reason_format(char *out, size_t size,
                                                                const char *format, ...)
{
        va_list arguments;

        va_start(arguments, format);
        vsnprintf(out, size, format, arguments);
        va_end(arguments);
}

/* The backend is down for reason: one warning per outage, then reconnecting. */
static void outage(struct redis_backend *backend, const char *reason)
{
        char where[REDIS_ADDRESS_HOST_MAX + 32];

        backend->available = false;
        if (backend->freeing)
                return;
        reason_format(backend->down_reason, sizeof(backend->down_reason), "%s", reason);
        if (!backend->down_logged) {
                log_warning("chat: redis %s unavailable (%s); reconnecting",
                            target(backend, where, sizeof(where)), backend->down_reason);
                backend->down_logged = true;
        }
        schedule_reconnect(backend);
}

/*
 * Our credentials are refused, or the password file cannot be used: what
 * the admin must fix, so it is logged once per outage even when the outage
 * began for another reason (a Redis restarted with a new password). The
 * outage's own warning is then not repeated.
 */
static void credentials_problem(struct redis_backend *backend, const char *reason)
{
        char where[REDIS_ADDRESS_HOST_MAX + 32];

        if (backend->freeing || backend->credentials_logged)
                return;
        log_warning("chat: redis %s: %s; retrying", target(backend, where, sizeof(where)), reason);
        backend->credentials_logged = true;
        backend->down_logged = true;
}

/* One connection is gone (its context already freed or being freed by hiredis). */
static void connection_lost(struct redis_backend *backend, const char *which, const char *reason)
{
        char text[REDIS_ERROR_MAX];

        reason_format(text, sizeof(text), "%s connection: %s", which,
                      reason && reason[0] ? reason : "closed");
        outage(backend, text);
}

/* The host to connect to: the address looked up for a name, else the address as given. */
static const char *connect_host(const struct redis_backend *backend)
{
        return backend->resolver ? backend->resolved : backend->address.host;
}

static void check_available(struct redis_backend *backend)
{
        char where[REDIS_ADDRESS_HOST_MAX + 32];

        if (backend->available || !backend->command_ready || !backend->subscriber_ready)
                return;
        backend->available = true;
        backend->backoff = BACKOFF_MIN;
        if (backend->down_logged) {
                log_info("chat: redis %s is back", target(backend, where, sizeof(where)));
                backend->down_logged = false;
        }
        backend->credentials_logged = false;
        backend->events->available(backend);
        if (backend->on_available)
                backend->on_available(backend->on_available_context);
}

static void command_selected(redisAsyncContext *context, void *reply_opaque, void *privdata)
{
        struct redis_backend *backend = privdata;
        redisReply *reply = reply_opaque;

        if (!reply || backend->freeing)
                return; /* the disconnect callback tells */
        if (reply->type != REDIS_REPLY_STATUS)
                redis_backend_drop(backend, context,
                                   reply->type == REDIS_REPLY_ERROR ? reply->str
                                                                    : "SELECT: unexpected reply");
}

/* AUTH refused (a wrong password, a user disabled): drop; the outage's warning says why. */
static void command_authed(redisAsyncContext *context, void *reply_opaque, void *privdata)
{
        struct redis_backend *backend = privdata;
        redisReply *reply = reply_opaque;
        char reason[REDIS_ERROR_MAX];

        if (!reply || backend->freeing)
                return;
        if (reply->type == REDIS_REPLY_STATUS)
                return;
        reason_format(reason, sizeof(reason), "AUTH refused: %s",
                      reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        credentials_problem(backend, reason);
        redis_backend_drop(backend, context, reason);
}

/* The first TIME answered: Redis's clock is known, so a message can carry its deadline. */
static void command_timed(redisAsyncContext *context, void *reply, void *privdata)
{
        struct redis_backend *backend = privdata;

        if (!reply || backend->freeing)
                return;
        if (redis_clock_read(backend, reply) < 0) {
                redis_backend_drop(backend, context, "TIME: unexpected reply");
                return;
        }
        backend->command_ready = true;
        backend->events->command_ready(backend);
        check_available(backend);
}

/* Ready only after a first answer: SELECT for a database, then TIME. */
static void command_connected(const redisAsyncContext *context, int status)
{
        struct redis_backend *backend = context->data;
        char db[16];
        const char *select[] = {"SELECT", db};
        const char *time[] = {"TIME"};

        if (status != REDIS_OK) {
                backend->command = NULL; /* hiredis frees it after this call */
                connection_lost(backend, "command", context->errstr);
                return;
        }
        if (redis_auth_enabled(&backend->auth)) {
                const char *auth[3];
                int argc = redis_auth_argv(&backend->auth, backend->password, auth);

                redisAsyncCommandArgv(backend->command, command_authed, backend, argc, auth, NULL);
        }
        snprintf(db, sizeof(db), "%d", backend->address.db);
        if (backend->address.db != 0)
                redisAsyncCommandArgv(backend->command, command_selected, backend, 2, select, NULL);
        redisAsyncCommandArgv(backend->command, command_timed, backend, 1, time, NULL);
}

static void command_disconnected(const redisAsyncContext *context, int status)
{
        struct redis_backend *backend = context->data;

        (void)status;
        if (!backend)
                return;
        if (backend->freeing) {
                connection_closed(backend);
                return;
        }
        backend->command = NULL;
        backend->command_ready = false;
        backend->ping_out = false;
        connection_lost(backend, "command", context->errstr);
}

static void subscriber_connected(void *data)
{
        struct redis_backend *backend = data;

        if (redis_auth_enabled(&backend->auth)) {
                const char *auth[3];
                int argc = redis_auth_argv(&backend->auth, backend->password, auth);

                if (redis_subscriber_send(backend->subscriber, argc, auth) < 0) {
                        redis_backend_drop_subscriber(backend, "AUTH: cannot be sent");
                        return;
                }
                backend->subscriber_authing = true; /* the relay hears of it once AUTH is OK */
                return;
        }
        backend->events->subscriber_connected(backend);
}

static void subscriber_reply(void *data, const redisReply *reply)
{
        struct redis_backend *backend = data;
        char reason[REDIS_ERROR_MAX];

        if (backend->subscriber_authing) {
                backend->subscriber_authing = false;
                if (reply->type == REDIS_REPLY_STATUS) {
                        backend->events->subscriber_connected(backend);
                        return;
                }
                reason_format(reason, sizeof(reason), "AUTH refused: %s",
                              reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
                credentials_problem(backend, reason);
                redis_backend_drop_subscriber(backend, reason);
                return;
        }
        backend->events->subscriber_reply(backend, reply);
}

/* The subscriber is gone (it frees itself); also the end of a drop. */
static void subscriber_lost(void *data, const char *reason)
{
        struct redis_backend *backend = data;

        backend->subscriber = NULL;
        backend->subscriber_ready = false;
        backend->subscriber_ping_out = false;
        backend->subscriber_authing = false;
        if (backend->freeing)
                return;
        backend->events->subscriber_lost(backend);
        connection_lost(backend, "subscriber", reason);
}

static const struct redis_subscriber_events subscriber_events = {
    .connected = subscriber_connected,
    .reply = subscriber_reply,
    .lost = subscriber_lost,
};

static void start_subscriber(struct redis_backend *backend)
{
        char reason[REDIS_ERROR_MAX];
        struct redis_address address = backend->address;
        int r;

        snprintf(address.host, sizeof(address.host), "%s", connect_host(backend));
        r = redis_subscriber_open(backend->loop, &address, &subscriber_events, backend,
                                  &backend->subscriber, reason, sizeof(reason));

        backend->subscriber_since = ev_time();
        if (r < 0) {
                backend->subscriber = NULL;
                connection_lost(backend, "subscriber", reason);
        }
}

static redisAsyncContext *start_connection(struct redis_backend *backend, const char *which,
                                           redisConnectCallback *connected,
                                           redisDisconnectCallback *disconnected)
{
        const struct redis_address *address = &backend->address;
        redisAsyncContext *context = address->path[0]
                                         ? redisAsyncConnectUnix(address->path)
                                         : redisAsyncConnect(connect_host(backend), address->port);

        if (!context) {
                connection_lost(backend, which, "out of memory");
                return NULL;
        }
        if (context->err) {
                connection_lost(backend, which, context->errstr);
                redisAsyncFree(context);
                return NULL;
        }
        set_cloexec(context->c.fd);
        /* hiredis's own redisEnableKeepAlive() fails the context on a unix socket. */
        if (!address->path[0])
                (void)net_keepalive(context->c.fd, REDIS_TCP_KEEPALIVE_IDLE,
                                    REDIS_TCP_KEEPALIVE_INTERVAL, REDIS_TCP_KEEPALIVE_COUNT);
        context->data = backend;
        if (redisLibevAttach(backend->loop, context) != REDIS_OK) {
                connection_lost(backend, which, "cannot attach to the loop");
                redisAsyncFree(context);
                return NULL;
        }
        redisAsyncSetConnectCallback(context, connected);
        redisAsyncSetDisconnectCallback(context, disconnected);
        return context;
}

static void connect_now(struct redis_backend *backend)
{
        char error[REDIS_ERROR_MAX];

        /* The file is read anew at each connect: a password changed in it is used from the next. */
        if (redis_auth_enabled(&backend->auth) &&
            redis_auth_read(&backend->auth, backend->password, error, sizeof(error)) < 0) {
                credentials_problem(backend, error);
                outage(backend, error);
                return;
        }
        if (!backend->command) {
                backend->command =
                    start_connection(backend, "command", command_connected, command_disconnected);
                backend->command_since = ev_time();
        }
        if (!backend->subscriber)
                start_subscriber(backend);
}

/* A host name's lookup is over: connect to its address, or retry with the backoff. */
static void on_resolved(void *data, int status, const char *address, const char *reason)
{
        struct redis_backend *backend = data;
        char text[REDIS_ERROR_MAX];

        if (backend->freeing)
                return;
        if (status < 0) {
                reason_format(text, sizeof(text), "cannot resolve %s: %s", backend->address.host,
                              reason);
                outage(backend, text);
                return;
        }
        snprintf(backend->resolved, sizeof(backend->resolved), "%s", address);
        connect_now(backend);
}

/* Connect what is down; a host name is looked up anew first, off the loop, each time. */
static void connect_missing(struct redis_backend *backend)
{
        char text[REDIS_ERROR_MAX];
        int r;

        if (!backend->resolver) {
                connect_now(backend);
                return;
        }
        if (redis_resolver_busy(backend->resolver))
                return; /* its end connects */
        r = redis_resolver_start(backend->resolver, backend->address.host);
        if (r < 0) {
                reason_format(text, sizeof(text), "cannot resolve %s: %s", backend->address.host,
                              strerror(-r));
                outage(backend, text);
        }
}

/*
 * Give up a connection: one still connecting has no disconnect callback
 * to come, so its loss is reported here.
 */
static void give_up(struct redis_backend *backend, redisAsyncContext **context, const char *which,
                    const char *reason)
{
        redisAsyncContext *doomed = *context;

        if (doomed->c.flags & REDIS_CONNECTED) {
                redis_backend_drop(backend, doomed, reason);
                return;
        }
        *context = NULL;
        redisAsyncFree(doomed);
        connection_lost(backend, which, reason);
}

/* The command connection's health check is a TIME, which keeps Redis's clock known too. */
static void health_pong(redisAsyncContext *context, void *reply, void *privdata)
{
        struct redis_backend *backend = privdata;

        if (!reply || backend->freeing)
                return;
        backend->ping_out = false;
        if (redis_clock_read(backend, reply) < 0)
                redis_backend_drop(backend, context, "TIME: unexpected reply");
}

/*
 * Check the command connection answers; a silent Redis fails the calls
 * rather than hold them.
 */
static void check_command(struct redis_backend *backend, double now)
{
        const char *ping[] = {"TIME"};

        if (backend->command && !backend->command_ready &&
            now - backend->command_since > ANSWER_TIMEOUT) {
                give_up(backend, &backend->command, "command", "no answer within 5 s");
                return;
        }
        if (!backend->command_ready)
                return;
        if (backend->ping_out) {
                if (now - backend->ping_sent > ANSWER_TIMEOUT)
                        redis_backend_drop(backend, backend->command, "no answer within 5 s");
                return;
        }
        if (redisAsyncCommandArgv(backend->command, health_pong, backend, 1, ping, NULL) ==
            REDIS_OK) {
                backend->ping_out = true;
                backend->ping_sent = now;
        }
}

/*
 * Check the subscriber answers too: a connection cut on Redis's side only
 * (a NAT or firewall forgetting it) would otherwise stay silent for ever,
 * relaying nothing while the node took messages. A connect, a SUBSCRIBE
 * and a PING each get ANSWER_TIMEOUT; while subscribed, a PING (which
 * Redis answers on a subscribed connection) goes out every HEALTH_INTERVAL.
 */
static void check_subscriber(struct redis_backend *backend, double now)
{
        const char *ping[] = {"PING"};

        if (!backend->subscriber)
                return;
        if (!redis_subscriber_is_connected(backend->subscriber)) {
                if (now - backend->subscriber_since > ANSWER_TIMEOUT)
                        redis_backend_drop_subscriber(backend, "no connection within 5 s");
                return;
        }
        if (!backend->subscriber_ready) {
                if (backend->subscriber_authing && now - backend->subscriber_since > ANSWER_TIMEOUT)
                        redis_backend_drop_subscriber(backend, "AUTH unanswered after 5 s");
                else if (backend->relay.subscribe_sent &&
                         now - backend->relay.subscribe_sent_at > ANSWER_TIMEOUT)
                        redis_backend_drop_subscriber(backend, "SUBSCRIBE unconfirmed after 5 s");
                return;
        }
        if (backend->subscriber_ping_out) {
                if (now - backend->subscriber_ping_sent > ANSWER_TIMEOUT)
                        redis_backend_drop_subscriber(backend, "no answer to PING within 5 s");
                return;
        }
        if (redis_subscriber_send(backend->subscriber, 1, ping) == 0) {
                backend->subscriber_ping_out = true;
                backend->subscriber_ping_sent = now;
        }
}

static void check_health(struct redis_backend *backend)
{
        /* Not the loop's cached time: a connection may start before the loop runs. */
        double now = ev_time();

        check_command(backend, now);
        check_subscriber(backend, now);
}

static void on_health_timer(struct ev_loop *loop, ev_timer *timer, int revents)
{
        (void)loop;
        (void)revents;
        check_health(timer->data);
}

static void on_reconnect_timer(struct ev_loop *loop, ev_timer *timer, int revents)
{
        (void)loop;
        (void)revents;
        connect_missing(timer->data);
}

void redis_backend_drop(struct redis_backend *backend, redisAsyncContext *context,
                        const char *reason)
{
        (void)backend;
        /* redisAsyncFree runs the disconnect callback, which reports errstr: say why first. */
        context->c.err = REDIS_ERR_OTHER;
        reason_format(context->c.errstr, sizeof(context->c.errstr), "%s", reason);
        context->err = context->c.err;
        context->errstr = context->c.errstr;
        redisAsyncFree(context);
}

void redis_backend_drop_subscriber(struct redis_backend *backend, const char *reason)
{
        struct redis_subscriber *doomed = backend->subscriber;

        if (!doomed)
                return;
        redis_subscriber_free(doomed);
        subscriber_lost(backend, reason);
}

void redis_backend_subscriber_pong(struct redis_backend *backend)
{
        backend->subscriber_ping_out = false;
}

int redis_backend_subscriber_send(struct redis_backend *backend, int argc, const char **argv)
{
        if (!backend->subscriber)
                return -ENOTCONN;
        return redis_subscriber_send(backend->subscriber, argc, argv);
}

void redis_backend_subscribed(struct redis_backend *backend)
{
        backend->subscriber_ready = true;
        check_available(backend);
}

int redis_backend_command(struct redis_backend *backend, redisCallbackFn *fn, void *privdata,
                          int argc, const char *const *argv, const size_t *lengths)
{
        if (!backend->command || !backend->command_ready || backend->freeing)
                return -EAGAIN;
        if (redisAsyncCommandArgv(backend->command, fn, privdata, argc, (const char **)argv,
                                  lengths) != REDIS_OK)
                return -EAGAIN;
        return 0;
}

static void sync_failed(struct redis_backend *backend, const char *what, const char *reason)
{
        reason_format(backend->sync_error, sizeof(backend->sync_error), "redis %s: %s", what,
                      reason);
        if (backend->sync)
                redisFree(backend->sync);
        backend->sync = NULL;
}

static int sync_connect(struct redis_backend *backend)
{
        struct timeval timeout = {SYNC_TIMEOUT, 0};
        const struct redis_address *address = &backend->address;
        redisReply *reply;

        /* A name is never looked up here, on the loop: only the loop connections' lookup serves. */
        if (!address->path[0] && !connect_host(backend)[0]) {
                reason_format(backend->sync_error, sizeof(backend->sync_error),
                              "redis unreachable: %s not resolved yet", address->host);
                return -EAGAIN;
        }
        backend->sync = address->path[0] ? redisConnectUnixWithTimeout(address->path, timeout)
                                         : redisConnectWithTimeout(connect_host(backend),
                                                                   address->port, timeout);
        if (!backend->sync) {
                snprintf(backend->sync_error, sizeof(backend->sync_error), "out of memory");
                return -ENOMEM;
        }
        if (backend->sync->err) {
                sync_failed(backend, "unreachable", backend->sync->errstr);
                return -EAGAIN;
        }
        set_cloexec(backend->sync->fd);
        redisSetTimeout(backend->sync, timeout);
        if (redis_auth_enabled(&backend->auth)) {
                const char *auth[3];
                char password[REDIS_AUTH_PASSWORD_MAX + 1];
                char error[REDIS_ERROR_MAX];
                int argc;

                if (redis_auth_read(&backend->auth, password, error, sizeof(error)) < 0) {
                        sync_failed(backend, "password", error);
                        return -EAGAIN;
                }
                argc = redis_auth_argv(&backend->auth, password, auth);
                reply = redisCommandArgv(backend->sync, argc, auth, NULL);
                explicit_bzero(password, sizeof(password));
                if (!reply || reply->type != REDIS_REPLY_STATUS) {
                        sync_failed(backend, "AUTH refused",
                                    reply && reply->type == REDIS_REPLY_ERROR
                                        ? reply->str
                                        : backend->sync->errstr);
                        freeReplyObject(reply);
                        return -EAGAIN;
                }
                freeReplyObject(reply);
        }
        if (address->db == 0)
                return 0;
        reply = redisCommand(backend->sync, "SELECT %d", address->db);
        if (!reply || reply->type != REDIS_REPLY_STATUS) {
                sync_failed(backend, "SELECT failed",
                            reply && reply->type == REDIS_REPLY_ERROR ? reply->str
                                                                      : backend->sync->errstr);
                freeReplyObject(reply);
                return -EAGAIN;
        }
        freeReplyObject(reply);
        return 0;
}

int redis_backend_command_sync(struct redis_backend *backend, int argc, const char *const *argv,
                               const size_t *lengths, redisReply **reply)
{
        int r;

        if (!backend->sync) {
                r = sync_connect(backend);
                if (r < 0)
                        return r;
        }
        *reply = redisCommandArgv(backend->sync, argc, (const char **)argv, lengths);
        if (!*reply) {
                sync_failed(backend, "connection lost", backend->sync->errstr);
                return -EIO;
        }
        return 0;
}

static int make_node_id(char node[REDIS_NODE_ID_LENGTH + 1])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char bytes[REDIS_NODE_ID_LENGTH / 2];

        if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes))
                return -errno;
        for (size_t i = 0; i < sizeof(bytes); i++) {
                node[2 * i] = hex[bytes[i] >> 4];
                node[2 * i + 1] = hex[bytes[i] & 15];
        }
        node[REDIS_NODE_ID_LENGTH] = '\0';
        return 0;
}

int redis_backend_new(struct ev_loop *loop, const struct store_redis_options *options,
                      const struct redis_backend_events *events, struct redis_backend **out)
{
        struct redis_backend *backend;
        struct redis_address address;
        int r;

        if (redis_address_parse(options->address, &address) < 0)
                return -EINVAL;
        backend = calloc(1, sizeof(*backend));
        if (!backend)
                return -ENOMEM;
        r = make_node_id(backend->node);
        if (r < 0) {
                free(backend);
                return r;
        }
        backend->loop = loop;
        backend->events = events;
        backend->address = address;
        if (options->user)
                snprintf(backend->auth.user, sizeof(backend->auth.user), "%s", options->user);
        if (options->password_file)
                snprintf(backend->auth.password_file, sizeof(backend->auth.password_file), "%s",
                         options->password_file);
        if (address.host[0] && !redis_resolver_is_numeric(address.host)) {
                backend->resolver = redis_resolver_new(loop, on_resolved, backend);
                if (!backend->resolver) {
                        free(backend);
                        return -ENOMEM;
                }
        }
        backend->history_max =
            options->history_max ? options->history_max : STORE_REDIS_HISTORY_DEFAULT;
        backend->presence_ttl =
            options->presence_ttl > 0 ? options->presence_ttl : STORE_REDIS_PRESENCE_TTL_DEFAULT;
        /* Pub/sub channels span every database: the channel names the one in use. */
        snprintf(backend->channel, sizeof(backend->channel), "echod:chat:%d", address.db);
        backend->backoff = BACKOFF_MIN;
        backend->relay.held_tail = &backend->relay.held_head;
        ev_init(&backend->reconnect_timer, on_reconnect_timer);
        backend->reconnect_timer.data = backend;
        ev_timer_init(&backend->health_timer, on_health_timer, HEALTH_INTERVAL, HEALTH_INTERVAL);
        backend->health_timer.data = backend;
        ev_timer_start(loop, &backend->health_timer);
        backend->events->init(backend);
        connect_missing(backend);
        *out = backend;
        return 0;
}

static void finish_free(struct redis_backend *backend)
{
        explicit_bzero(backend->password, sizeof(backend->password));
        if (backend->sync)
                redisFree(backend->sync);
        backend->events->freed(backend);
        free(backend);
}

/*
 * Free a connection; its pending calls end with -ECANCELED. Inside one of
 * its own callbacks hiredis frees it only once that callback returns, so
 * the backend waits for its disconnect callback to go (closing counts).
 */
static void close_connection(struct redis_backend *backend, redisAsyncContext **slot)
{
        redisAsyncContext *context = *slot;

        *slot = NULL;
        if (!context)
                return;
        if (context->c.flags & REDIS_IN_CALLBACK)
                backend->closing++;
        else
                context->data = NULL; /* its disconnect callback, run now, has nothing to do */
        redisAsyncFree(context);
}

/* A connection's disconnect callback while the backend is being freed. */
static void connection_closed(struct redis_backend *backend)
{
        if (--backend->closing == 0)
                finish_free(backend);
}

void redis_backend_free(struct redis_backend *backend)
{
        if (!backend)
                return;
        backend->freeing = true;
        backend->available = false;
        redis_resolver_free(backend->resolver);
        backend->resolver = NULL;
        ev_timer_stop(backend->loop, &backend->reconnect_timer);
        ev_timer_stop(backend->loop, &backend->health_timer);
        backend->events->freeing(backend);
        redis_late_cancel_all(backend);
        /*
         * What was queued this loop turn goes out still (a message read just
         * before a restart's hand-over): one write that does not block.
         */
        if (backend->command && (backend->command->c.flags & REDIS_CONNECTED)) {
                int done = 0;

                (void)redisBufferWrite(&backend->command->c, &done);
        }
        close_connection(backend, &backend->command);
        redis_subscriber_free(backend->subscriber);
        backend->subscriber = NULL;
        if (backend->closing == 0)
                finish_free(backend);
}
