#ifndef ECHOD_CHAT_JOB_H
#define ECHOD_CHAT_JOB_H

#include <stdbool.h>
#include <stddef.h>

#include "chat_state.h"

/*
 * A connection's password job on the worker pool (argon2id takes about
 * 55 ms of a core): while it runs the connection takes no line; when it
 * ends, the function given to chat_job_submit() gets the result.
 *
 * Called by: chat_login.c, chat_password.c, chat_service.c (cancel);
 * calls: chat_conn.c.
 */

enum chat_job_kind {
        CHAT_JOB_VERIFY,   /* check a password; rehash it if the cost changed */
        CHAT_JOB_REGISTER, /* hash the password of a new user */
        CHAT_JOB_CHANGE,   /* hash a new password (/password) */
};

/* The job has ended for conn (still open, not closing); its phase is back to the one before. */
typedef void (*chat_job_done_fn)(struct chat_conn *conn, struct chat_job *job);

/* A password job: everything the worker needs is copied in, so it touches nothing else. */
struct chat_job {
        struct chat_conn *conn; /* never touched when the job is cancelled */
        enum chat_job_kind kind;
        chat_job_done_fn done;
        struct auth_params params;
        char password[AUTH_PASSWORD_MAX + 1];
        size_t password_length;
        char hash[AUTH_HASH_SIZE];     /* in: the stored hash; out: a new hash */
        char new_hash[AUTH_HASH_SIZE]; /* VERIFY: a fresh hash when the cost changed */
        bool rehashed;
        int result; /* 0 or -errno: the password was wrong, or it could not be hashed */
};

/*
 * Start a password job for conn (stored_hash: the hash VERIFY checks
 * against, else NULL); the connection waits for it without reading, and
 * done runs when it ends. 0, or -ENOMEM or the pool's -errno (its queue is
 * full): nothing was started and the caller says so.
 */
int chat_job_submit(struct chat_conn *conn, enum chat_job_kind kind, const char *password,
                    size_t length, const char *stored_hash, chat_job_done_fn done);

/* The connection goes away: its job, if any, is cancelled and done never runs. */
void chat_job_cancel(struct chat_conn *conn);

#endif
