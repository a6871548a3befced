#ifndef ECHOD_CHAT_REDIS_BACKEND_H
#define ECHOD_CHAT_REDIS_BACKEND_H

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "chat_line.h"
#include "redis_address.h"
#include "redis_auth.h"
#include "redis_resolver.h"
#include "redis_subscriber.h"

/*
 * The Redis chat backend's shared state (internal to src/daemon/chat/):
 * redis_backend.c owns the connections (one command connection on the loop
 * through hiredis, one subscriber connection on the loop through
 * redis_subscriber.c, one blocking connection for the rare operator
 * commands) and checks that both loop connections answer; redis_clock.c
 * keeps Redis's clock and the failures told late; store_redis.c has the
 * store operations, bus_redis.c the relay, redis_presence.c presence and
 * /who, redis_values.c the small parsers. One struct serves the store and
 * the bus: store_fini() frees it, the bus's free does nothing.
 */

#define REDIS_NODE_ID_LENGTH   16 /* hex digits */
#define REDIS_ERROR_MAX        256
#define REDIS_CHANNEL_MAX      48
#define REDIS_HELD_MAX         4096 /* relayed messages held during a catch-up */
#define REDIS_CATCH_UP_BATCH   1000 /* entries per XRANGE of a catch-up */
#define REDIS_PRESENCE_MAX     100000
#define REDIS_HISTORY_READ_MAX 10000 /* messages one history_last reads at most */

/* A stream entry ID, "MS-SEQ". */
struct redis_stream_id {
        uint64_t ms;
        uint64_t seq;
};

struct redis_held {
        struct redis_held *next;
        size_t length;
        char payload[];
};

/* The relay's side (bus_redis.c). */
struct redis_relay {
        bus_deliver_fn deliver;
        void *context;
        struct redis_stream_id last; /* the newest history entry delivered (or skipped) */
        bool have_last;              /* last is known; until then nothing is subscribed */
        bool tip_asked;              /* the stream's newest entry has been asked for */
        bool subscriber_connected;
        bool subscribe_sent;
        double subscribe_sent_at; /* ev_time() of the SUBSCRIBE, for its answer's deadline */
        bool catching_up;         /* reading what the subscriber missed; relayed messages wait */
        bool reading;             /* an XRANGE of the catch-up is under way */
        bool held_dropped;        /* the hold overflowed: read the history once more */
        bool again;               /* subscribed anew while reading: read once more */
        struct redis_held *held_head, **held_tail;
        size_t held_count;
};

/*
 * A failure told only once Redis can no longer act on its command
 * (redis_clock.c): tell runs once, at the time asked, or at once with
 * cancelled true when the backend is freed.
 */
struct redis_late {
        struct redis_late *next, **prev;
        ev_timer timer;
        struct redis_backend *backend;
        void (*tell)(struct redis_late *late, bool cancelled);
};

struct redis_presence_name {
        char lower[CHAT_NAME_MAX + 1];
        char name[CHAT_NAME_MAX + 1];
        bool known; /* written to Redis once already (so not new after Redis lost its data) */
};

#define REDIS_EPOCH_MAX 64

/* This node's logged-in names (redis_presence.c), sorted by lower. */
struct redis_presence {
        struct redis_presence_name *names;
        size_t count, capacity;
        ev_timer refresh_timer;
        char epoch[REDIS_EPOCH_MAX + 1]; /* echod:epoch as last seen; empty at first */
        uint64_t refreshes;              /* makes each proposed epoch new */
};

struct redis_backend {
        struct ev_loop *loop;
        const struct redis_backend_events *events;
        struct redis_address address;
        /* chat-redis-user and the password file; the password as read at the last connect. */
        struct redis_auth auth;
        char password[REDIS_AUTH_PASSWORD_MAX + 1];
        bool subscriber_authing; /* the subscriber's AUTH is unanswered */
        /* A host name is looked up off the loop at each (re)connect; NULL for an address. */
        struct redis_resolver *resolver;
        char resolved[REDIS_RESOLVER_ADDRESS_MAX]; /* the name's address last looked up */
        unsigned history_max;
        double presence_ttl; /* seconds */
        char node[REDIS_NODE_ID_LENGTH + 1];
        char channel[REDIS_CHANNEL_MAX];

        redisAsyncContext *command;          /* NULL while down */
        struct redis_subscriber *subscriber; /* NULL while down */
        bool command_ready;                  /* connected and SELECTed */
        bool subscriber_ready;               /* SUBSCRIBEd */
        bool available;
        /* Told each time available becomes true (store_on_available()). */
        void (*on_available)(void *context);
        void *on_available_context;
        bool down_logged;        /* the one warning of this outage is out */
        bool credentials_logged; /* ... and the one of our credentials' refusal */
        bool freeing;
        int closing; /* connections hiredis frees once their callback returns */
        ev_timer reconnect_timer;
        double backoff;
        ev_timer health_timer;                  /* PINGs both connections */
        double command_since, subscriber_since; /* when each connection was started */
        bool ping_out, subscriber_ping_out;
        double ping_sent, subscriber_ping_sent;
        char down_reason[REDIS_ERROR_MAX];
        /* Redis's clock (TIME, ms) less ours (CLOCK_MONOTONIC, ms): a lower bound, from the
         * last TIME answered. */
        int64_t clock_offset_ms;
        struct redis_late *late_head; /* failures waiting to be told */

        redisContext *sync; /* the blocking connection, connected on first use */
        char sync_error[REDIS_ERROR_MAX];

        struct redis_relay relay;
        struct redis_presence presence;
};

struct store_redis_options;

/*
 * What the parts above the connections (the relay in bus_redis.c, presence
 * in redis_presence.c) are told of the connections' life. redis_backend.c
 * calls up only through this table, which store_redis.c fills in, so the
 * backend never names a function of the relay or of presence. Called by:
 * redis_backend.c; filled in by: store_redis.c. Every member is required.
 */
struct redis_backend_events {
        void (*init)(struct redis_backend *backend);          /* made, before connecting */
        void (*command_ready)(struct redis_backend *backend); /* SELECTed, TIME known */
        void (*subscriber_connected)(struct redis_backend *backend);
        void (*subscriber_lost)(struct redis_backend *backend);
        void (*subscriber_reply)(struct redis_backend *backend, const redisReply *reply);
        void (*available)(struct redis_backend *backend); /* both connections ready */
        void (*freeing)(struct redis_backend *backend);   /* free begins; connections still open */
        void (*freed)(struct redis_backend *backend);     /* connections gone, memory next */
};

/*
 * Make the backend and start connecting; events must outlive it. Returns 0,
 * -EINVAL (bad address) or -ENOMEM.
 */
int redis_backend_new(struct ev_loop *loop, const struct store_redis_options *options,
                      const struct redis_backend_events *events, struct redis_backend **out);

/* Close every connection (pending calls end with -ECANCELED) and free the backend. */
void redis_backend_free(struct redis_backend *backend);

/* The subscriber's SUBSCRIBE was confirmed (bus_redis.c tells). */
void redis_backend_subscribed(struct redis_backend *backend);

/* A connection misbehaved: drop it and reconnect, as if Redis had closed it. */
void redis_backend_drop(struct redis_backend *backend, redisAsyncContext *context,
                        const char *reason);

/* The subscriber misbehaved or went silent: drop it (one warning says why) and reconnect. */
void redis_backend_drop_subscriber(struct redis_backend *backend, const char *reason);

/* The subscriber answered its health PING (bus_redis.c tells). */
void redis_backend_subscriber_pong(struct redis_backend *backend);

/* Queue a command on the subscriber. Returns 0, or -errno (-ENOTCONN while it is down). */
int redis_backend_subscriber_send(struct redis_backend *backend, int argc, const char **argv);

/*
 * Send a command on the command connection; fn gets the reply, or NULL once
 * if the connection goes away first (or the backend is freed). Returns 0, or
 * -EAGAIN while unavailable (fn is then not called).
 */
int redis_backend_command(struct redis_backend *backend, redisCallbackFn *fn, void *privdata,
                          int argc, const char *const *argv, const size_t *lengths);

/* The blocking equivalent, connecting if needed. Returns 0 with *reply set, -EAGAIN or -EIO. */
int redis_backend_command_sync(struct redis_backend *backend, int argc, const char *const *argv,
                               const size_t *lengths, redisReply **reply);

/* redis_values.c. */

/* Record that a reply had the wrong shape or an error, and drop nothing: returns -EBADMSG. */
int redis_backend_note_bad_reply(char *error, size_t size, const char *what,
                                 const redisReply *reply);

/* Parse a stream ID "MS-SEQ". Returns 0 or -EBADMSG. */
int redis_stream_id_parse(const char *text, size_t length, struct redis_stream_id *id);

/* The history id of a stream ID (ms * 1000000 + seq), and back. */
uint64_t redis_stream_id_to_u64(struct redis_stream_id id);
struct redis_stream_id redis_stream_id_from_u64(uint64_t value);

/* Compare stream IDs: <0, 0 or >0. */
int redis_stream_id_compare(struct redis_stream_id a, struct redis_stream_id b);

/* Parse a whole decimal uint64 from length bytes. Returns 0 or -EBADMSG. */
int redis_parse_u64(const char *text, size_t length, uint64_t *value);

/* Copy a name, ASCII-lowercased, into lower (CHAT_NAME_MAX + 1 bytes); the name must be valid. */
void redis_name_lower(const char *name, char lower[CHAT_NAME_MAX + 1]);

/* bus_redis.c: the relay's part of the connections' life (through redis_backend_events). */
void redis_relay_command_ready(struct redis_backend *backend);
void redis_relay_subscriber_connected(struct redis_backend *backend);
void redis_relay_subscriber_lost(struct redis_backend *backend);
void redis_relay_subscriber_reply(struct redis_backend *backend, const redisReply *reply);
void redis_relay_available(struct redis_backend *backend);
void redis_relay_fini(struct redis_backend *backend);
void redis_bus_fill(struct redis_backend *backend, struct bus *bus);

/* redis_clock.c: Redis's clock as the node sees it, and failures told late. */

/* Seconds on this node's monotonic clock. */
double redis_clock_now(void);

/* Take Redis's clock from a TIME reply, answered just now. Returns 0 or -EBADMSG. */
int redis_clock_read(struct redis_backend *backend, const redisReply *reply);

/*
 * A deadline, in Redis's clock (ms), that Redis's clock cannot yet have
 * reached, and will have reached by redis_clock_now() + seconds here.
 */
uint64_t redis_clock_deadline_ms(const struct redis_backend *backend, double seconds);

/* Run late->tell at at (redis_clock_now() time); late must stay put until then. */
void redis_late_tell(struct redis_backend *backend, struct redis_late *late, double at);

/* Tell every late failure now, cancelled (the backend is being freed). */
void redis_late_cancel_all(struct redis_backend *backend);

/* redis_presence.c (init, available and fini through redis_backend_events). */
void redis_presence_init(struct redis_backend *backend);
void redis_presence_available(struct redis_backend *backend);
void redis_presence_fini(struct redis_backend *backend);
void redis_presence_set(void *state, const char *name, bool online, uint64_t sender);
void redis_presence_who(void *state, bus_who_fn done, void *context);

#endif
