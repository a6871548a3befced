#ifndef ECHOD_CHAT_STATE_H
#define ECHOD_CHAT_STATE_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "auth.h"
#include "bus.h"
#include "chat_line.h"
#include "lockout.h"
#include "service.h"
#include "store.h"
#include "workers.h"

/*
 * The data of the chat's session layer: a connection and the service that
 * holds them. Data only, no functions: every file of the session layer
 * includes it, and each module's own header (chat_conn.h, chat_login.h, ...)
 * says what it offers and which way its calls go.
 */

/* Raw bytes read and not yet split into lines, per connection. */
#define CHAT_INPUT_MAX 4096

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
struct chat_conn_events;
struct chat_revoke;

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
        bool peer_closed;    /* end of input was read */
        bool overflowed;     /* its output queue filled: a slow reader, closed */
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
        /* What the connections tell the layers above (chat_conn.h), set by chat_service.c. */
        const struct chat_conn_events *events;
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
        /* Revokes of every session of a user not yet done by the store (chat_revoke.c). */
        struct chat_revoke *revokes;
};

#endif
