#ifndef ECHOD_CHAT_INTERNAL_H
#define ECHOD_CHAT_INTERNAL_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "auth.h"
#include "bus.h"
#include "handover.h"
#include "chat_line.h"
#include "lockout.h"
#include "service.h"
#include "store.h"
#include "workers.h"

/*
 * Shared by the chat's files: chat_service.c (the service table,
 * connections, their bounded output queues, the relay), chat_limits.c (the
 * failed-login limits), chat_login.c (the login dialogue) and
 * chat_session.c (the commands after it).
 */

/* Password checks and failures (per address group and per name) before the door closes. */
#define CHAT_FAILURES_MAX 5
/* Failures are forgotten after this long without a new one. */
#define CHAT_FAILURE_MEMORY 900.0
/* The pause after a wrong password: this, doubled for each failure before it. */
#define CHAT_FAILURE_DELAY 0.25
/* Keys in each failure table (address groups, and names). */
#define CHAT_FAILURE_SLOTS 4096
/* Raw bytes read and not yet split into lines, per connection. */
#define CHAT_INPUT_MAX 4096
/* Seconds a closing connection has to read its last lines before it is closed anyway. */
#define CHAT_CLOSE_LINGER 5.0
/* Messages /history shows at most. */
#define CHAT_HISTORY_REQUEST_MAX 1000
/* Seconds a connection taken over waits for its store (Redis) before its lines are handled. */
#define CHAT_STORE_WAIT 5.0
/* How often such a connection looks whether the store is up. */
#define CHAT_STORE_POLL 0.01

enum chat_phase {
        CHAT_PHASE_NAME,     /* NAME? was sent */
        CHAT_PHASE_PASSWORD, /* PASSWORD? was sent */
        CHAT_PHASE_WAITING,  /* a login's password job runs, or the pause after a failure */
        CHAT_PHASE_CHAT,     /* logged in */
        CHAT_PHASE_CLOSING,  /* flushing its last lines, then closed */
};

struct chat_service;
struct chat_job;
struct chat_wait;

/* A relayed line held for a connection until its login history is out. */
struct chat_held_line {
        struct chat_held_line *next;
        uint64_t id; /* a message's history id; 0 for JOIN and LEAVE */
        size_t length;
        char line[];
};

/* Which of the service's counters a connection is in. */
enum chat_count {
        CHAT_COUNT_NONE,
        CHAT_COUNT_PENDING, /* logging in */
        CHAT_COUNT_ONLINE,  /* logged in */
};

struct chat_conn {
        struct chat_service *chat;
        struct chat_conn *prev, *next; /* every connection */
        struct chat_conn *dirty_next;  /* connections with output to flush */
        bool dirty;
        uint64_t id; /* the bus's sender id */
        int fd;
        ev_io read_watcher;
        ev_io write_watcher;
        ev_timer timer; /* the login timeout, the pause after a failure, or the close linger */
        enum chat_phase phase;
        enum chat_count counted;
        bool registering;             /* the name is not registered yet */
        bool pausing;                 /* in the pause after a failure */
        enum chat_phase resume_phase; /* the prompt to give again after the pause */
        ev_tstamp login_deadline;
        bool awaiting_store; /* taken over before the store was up: no line until it is */
        ev_tstamp store_deadline;
        bool peer_closed; /* end of input was read */
        bool overflowed;  /* its output queue filled: a slow reader, closed */
        const char *close_reason;
        char name[CHAT_NAME_MAX + 1];
        char address[ADDR_HOST_MAX];
        char port[8];
        /* Its address group's key in the failure table and for the pending limit (IPv6: /64). */
        char address_key[LOCKOUT_KEY_MAX];
        /* A password check reserved in the failure tables, until it ends (chat_limits.c). */
        bool check_reserved;
        char check_name_key[LOCKOUT_KEY_MAX]; /* "" if the check counts for the address alone */
        struct chat_line_reader reader;
        char input[CHAT_INPUT_MAX];
        size_t input_start, input_end;
        /* Bytes queued for the peer; grows up to chat_output_max. */
        char *output;
        size_t output_start, output_end, output_capacity;
        struct chat_job *job; /* the password job out for it, if any: no line is taken */
        workers_job_id job_id;
        struct chat_wait *wait; /* the store call it waits for, if any: no line is taken */
        char token_hash[AUTH_TOKEN_HASH_TEXT_SIZE]; /* its session, once logged in */
        /* Logged in, its history not read yet: relayed lines wait, to follow it. */
        bool history_pending;
        uint64_t history_newest; /* the newest message its login history showed */
        struct chat_held_line *held_head, **held_tail;
        size_t held_bytes;
        double flood_tokens;
        ev_tstamp flood_at;
        ev_tstamp started;
        uint64_t bytes_in, bytes_out, messages;
};

struct chat_service {
        struct service_env env;
        struct ev_loop *loop;
        const struct config *config;
        struct store store;
        struct bus bus;
        struct workers workers;
        struct auth_params auth;
        struct chat_conn *head;
        struct chat_conn *dirty_head;
        ev_prepare flush_watcher; /* flushes every dirty connection once per loop iteration */
        uint64_t next_id;
        unsigned count;   /* connections */
        unsigned online;  /* connections logged in */
        unsigned pending; /* connections logging in */
        uint64_t total, bytes_in, bytes_out, messages;
        unsigned ticks;
        bool draining;
        /* Failed logins per address group, and per registered name (chat_limits.c). */
        struct lockout_table failed_addresses, failed_names;
};

/* chat_service.c */

/* A connection on fd, in the service's list, not yet watched; NULL (fd closed) without memory. */
struct chat_conn *chat_conn_new(struct chat_service *chat, int fd, const struct sockaddr *peer,
                                socklen_t length);

/* Take a connection out of the service and free it, closing its fd; nothing is logged or told. */
void chat_conn_forget(struct chat_conn *conn);

/* Close now: end the session (LEAVE), log the disconnect, free. */
void chat_close(struct chat_conn *conn, const char *reason);

/* Queue a server line (text ending in LF) for conn; a full queue marks it a slow reader. */
void chat_send(struct chat_conn *conn, const char *line, size_t length);

/* Queue a formatted server line; the format supplies the LF. */
void chat_sendf(struct chat_conn *conn, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Flush what is queued, then close with reason (the phase becomes CLOSING). */
void chat_close_after_flush(struct chat_conn *conn, const char *reason);

/* Its output would pass the limit: close it as a slow reader. */
void chat_overflow(struct chat_conn *conn);

/* Stop or start reading a connection (while a job runs, or during a pause). */
void chat_pause_input(struct chat_conn *conn, bool paused);

/* Go on with input already read, after a pause. */
void chat_resume_input(struct chat_conn *conn);

/* Milliseconds since the epoch, now. */
uint64_t chat_now_ms(void);

/* Connections of name that are logged in, other than except. */
unsigned chat_online_count(struct chat_service *chat, const char *name,
                           const struct chat_conn *except);

/* Log a chat event with the connection's fields (SERVICE=chat, REMOTE_*, USER). */
void chat_log(struct chat_conn *conn, int priority, const char *message_id, const char *extra,
              const char *format, ...) __attribute__((format(printf, 5, 6)));

/* chat_handover.c: a planned restart carries every logged-in connection over. */
int chat_hand_over(void *state, struct handover_writer *writer,
                   const struct service_handover *handover);
int chat_take_over(void *state, struct handover_record *record, int fd);

/* The timer of a connection taken over ran: handle its lines once the store is up. */
void chat_take_over_tick(struct chat_conn *conn);

/* chat_admin.c: echoctl's forget-identities, users, users remove, kick. */
const struct control_chat_admin *chat_admin(void *state);

/* chat_wait.c: a connection waiting for the store (or the bus) */

/* The next step, given the store's reply; conn is still open and not closing. */
typedef void (*chat_next_fn)(struct chat_conn *conn, struct chat_wait *wait,
                             const struct store_reply *reply);

/* What a store call carries for its next step, besides the connection. */
struct chat_wait {
        struct chat_conn *conn; /* NULL once the connection has gone: the reply is dropped */
        chat_next_fn next;
        bool calling;          /* the call has not returned yet */
        bool finished;         /* done ran (before the call returned) */
        enum chat_phase again; /* the prompt to give again if it fails */
        /*
         * A restart may hand the connection over while the reply is out: the
         * reply is then dropped, and redo (if set) is the line the next
         * process handles in its place.
         */
        bool carried;
        char redo[24];
        char name[CHAT_NAME_MAX + 1];
        char token_text[AUTH_TOKEN_TEXT_SIZE];
        char token_hash[AUTH_TOKEN_HASH_TEXT_SIZE];
        char password[AUTH_PASSWORD_MAX + 1];
        size_t password_length;
        const char *method;
};

/*
 * Start waiting: the connection takes no line until the reply, which goes to
 * next. Call the store with chat_wait_done and the wait as context, then
 * chat_wait_called(). NULL without memory.
 */
struct chat_wait *chat_wait_new(struct chat_conn *conn, chat_next_fn next);

/* The store_done_fn of every call made with a chat_wait. */
void chat_wait_done(void *context, const struct store_reply *reply);

/* The call returned: a reply still to come pauses the connection's input until then. */
void chat_wait_called(struct chat_wait *wait);

/* The connection goes away: a reply still to come is dropped. */
void chat_wait_detach(struct chat_conn *conn);

/* A store_done_fn for calls whose result only matters if it fails: context names the call. */
void chat_store_logged(void *context, const struct store_reply *reply);

/* chat_limits.c: what a peer may try while logging in */

/* Set up the failure tables. 0 or -ENOMEM. */
int chat_limits_init(struct chat_service *chat);

/* Free the failure tables. */
void chat_limits_fini(struct chat_service *chat);

/* True if conn's address may start one more login (chat-max-pending-per-address). */
bool chat_limits_pending_room(struct chat_conn *conn);

/* True if conn's address group, or its name once known and registered, is locked. */
bool chat_limits_locked(struct chat_conn *conn);

/*
 * Reserve a password check for conn's address group and name before it
 * starts. 0; -EDQUOT when either is at the limit; -ENOSPC when the table of
 * names is full of live counts.
 */
int chat_limits_reserve(struct chat_conn *conn);

/* The reserved check did not run (busy, the store failed, the user went): forget it. */
void chat_limits_release(struct chat_conn *conn);

/* The connection goes away: a check on the workers counts as failed, one not started is released.
 */
void chat_limits_end(struct chat_conn *conn);

/* Logged in: forget the failures of its address group and name. */
void chat_limits_logged_in(struct chat_conn *conn);

/* Close conn for too many failed logins (or a full table: reason). */
void chat_lock_out(struct chat_conn *conn, const char *reason);

/*
 * A wrong password (its check reserved) or a wrong token (counted for the
 * address alone): count it, log it, say reason, and pause before the prompt
 * of again, or lock out at the limit.
 */
void chat_login_failed(struct chat_conn *conn, const char *reason, enum chat_phase again);

/* chat_login.c: the login dialogue */

/* Greet a new connection: HELLO and PASSWORD?, or NAME?. */
void chat_session_start(struct chat_conn *conn);

/* Handle a line before login (NAME?, PASSWORD?, /token, /name, /quit). */
void chat_login_line(struct chat_conn *conn, const char *text, size_t length);

/* Give the prompt of phase again (NAME? or PASSWORD?). */
void chat_prompt(struct chat_conn *conn, enum chat_phase phase);

/* /password NEW after login: hash it on the worker pool, then store it. */
void chat_change_password(struct chat_conn *conn, const char *password, size_t length);

/* The login timer or the failure pause ran out. */
void chat_session_timer(struct chat_conn *conn);

/* Cancel the connection's password job, if any. */
void chat_login_end(struct chat_conn *conn);

/* chat_session.c: after login */

/* Handle one complete line from the peer. */
void chat_session_line(struct chat_conn *conn, const struct chat_line *line);

/* Handle an overlong line (already dropped by the reader). */
void chat_session_too_long(struct chat_conn *conn);

/* The connection goes away: cancel what it waits for, announce LEAVE if it was the user's last. */
void chat_session_end(struct chat_conn *conn);

/* The user of conn is now online here: JOIN (or the bus's presence) if it is its first. */
void chat_session_online(struct chat_conn *conn, bool announce);

/* Queue the HIST lines of a history reply; returns the number queued. */
int chat_session_queue_history(struct chat_conn *conn, const struct store_reply *reply);

/*
 * The login history is out (newest: the id of its newest message, 0 if
 * none or it failed): the lines held meanwhile follow it, less the messages
 * it already showed.
 */
void chat_session_history_done(struct chat_conn *conn, uint64_t newest);

/* Free the lines held for a connection. */
void chat_session_drop_held(struct chat_conn *conn);

/* Deliver a relayed message to the local users (the bus's subscriber). */
void chat_session_deliver(void *context, const struct bus_message *message);

/*
 * A session of conn's user ended: close the user's other connections logged
 * in with token_hash (NULL: every session of the user), here and, through
 * the bus, on every node. conn itself stays.
 */
void chat_session_end_sessions(struct chat_conn *conn, const char *token_hash);

#endif
