#ifndef ECHOD_CHAT_CONN_H
#define ECHOD_CHAT_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "chat_state.h"

/*
 * A chat connection's I/O: its bounded output queue and the flush once per
 * loop iteration, reading and splitting lines, pausing, its timer, closing.
 * The bottom of the session layer.
 *
 * Called by: every other file of the session layer; calls: nothing of the
 * session layer. What it has to tell the layers above (a line, a timer, a
 * close) goes through the struct chat_conn_events that chat_service.c fills.
 */

/* What the connections tell the layers above; every member is set. */
struct chat_conn_events {
        /* A complete line from the peer, in a phase that takes lines. */
        void (*line)(struct chat_conn *conn, const struct chat_line *line);
        /* A line past CHAT_LINE_MAX, already dropped by the reader. */
        void (*too_long)(struct chat_conn *conn);
        /* The connection's timer ran (not the close linger, which chat_conn.c handles). */
        void (*timer)(struct chat_conn *conn);
        /* chat_close() is about to log and free conn: end its session (LEAVE, counters). */
        void (*closing)(struct chat_conn *conn);
        /* chat_conn_forget() is about to free conn: drop what the layers above hold for it. */
        void (*forgetting)(struct chat_conn *conn);
};

/* Set up the flush of the service's connections; events stays the caller's. */
void chat_conn_init(struct chat_service *chat, const struct chat_conn_events *events);

/* Stop the flush (every connection is closed already). */
void chat_conn_fini(struct chat_service *chat);

/* A connection on fd, in the service's list, not yet watched; NULL (fd closed) without memory. */
struct chat_conn *chat_conn_new(struct chat_service *chat, int fd, const struct sockaddr *peer,
                                socklen_t length);

/* Take a connection out of the service and free it, closing its fd; nothing is logged. */
void chat_conn_forget(struct chat_conn *conn);

/* Close now: end the session (events->closing), log the disconnect, free. */
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

/* Go on with input already read (after a pause, a job, a store reply), then read again. */
void chat_resume_input(struct chat_conn *conn);

/* Run the connection's timer once after seconds, replacing what it was set to. */
void chat_conn_timer(struct chat_conn *conn, ev_tstamp seconds);

/* Milliseconds since the epoch, now. */
uint64_t chat_now_ms(void);

/* Connections of name that are logged in, other than except. */
unsigned chat_online_count(struct chat_service *chat, const char *name,
                           const struct chat_conn *except);

/* Log a chat event with the connection's fields (SERVICE=chat, REMOTE_*, USER). */
void chat_log(struct chat_conn *conn, int priority, const char *message_id, const char *extra,
              const char *format, ...) __attribute__((format(printf, 5, 6)));

#endif
