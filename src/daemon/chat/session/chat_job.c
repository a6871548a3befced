/*
 * Password jobs on the worker pool (chat_job.h). The worker touches only
 * the job; the loop thread hands the result to the job's done function.
 */
#include "chat_job.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chat_conn.h"

static void on_job_work(void *arg)
{
        struct chat_job *job = arg;

        switch (job->kind) {
        case CHAT_JOB_VERIFY:
                job->result = auth_password_verify(job->hash, job->password, job->password_length);
                if (job->result == 0 && auth_password_needs_rehash(&job->params, job->hash) == 1)
                        job->rehashed =
                            auth_password_hash(&job->params, job->password, job->password_length,
                                               job->new_hash) == 0;
                break;
        case CHAT_JOB_REGISTER:
        case CHAT_JOB_CHANGE:
                job->result = auth_password_hash(&job->params, job->password, job->password_length,
                                                 job->hash);
                break;
        }
        sodium_memzero(job->password, sizeof(job->password));
}

static void on_job_done(void *arg, bool cancelled)
{
        struct chat_job *job = arg;
        struct chat_conn *conn = job->conn;

        if (cancelled || !conn)
                goto out;
        conn->job = NULL;
        conn->job_id = 0;
        /* The connection is on its way out (a drain): the answer no longer matters. */
        if (conn->phase == CHAT_PHASE_CLOSING)
                goto out;
        conn->phase = conn->resume_phase;
        job->done(conn, job);
        chat_resume_input(conn);
out:
        sodium_memzero(job, sizeof(*job));
        free(job);
}

int chat_job_submit(struct chat_conn *conn, enum chat_job_kind kind, const char *password,
                    size_t length, const char *stored_hash, chat_job_done_fn done)
{
        struct chat_service *chat = conn->chat;
        struct chat_job *job = calloc(1, sizeof(*job));
        enum chat_phase back = conn->phase;
        int r;

        if (!job)
                return -ENOMEM;
        job->conn = conn;
        job->kind = kind;
        job->done = done;
        job->params = chat->auth;
        memcpy(job->password, password, length);
        job->password_length = length;
        if (stored_hash)
                snprintf(job->hash, sizeof(job->hash), "%s", stored_hash);
        r = workers_submit(&chat->workers, on_job_work, on_job_done, job, &conn->job_id);
        if (r < 0) {
                sodium_memzero(job, sizeof(*job));
                free(job);
                return r;
        }
        conn->job = job;
        conn->resume_phase = back;
        /*
         * A logged-in user stays online while its /password is hashed: it
         * still gets messages and counts for /who, JOIN and LEAVE. Only its
         * input waits (no line is taken while a job is out).
         */
        if (back != CHAT_PHASE_CHAT)
                conn->phase = CHAT_PHASE_WAITING;
        chat_pause_input(conn, true);
        return 0;
}

void chat_job_cancel(struct chat_conn *conn)
{
        if (!conn->job)
                return;
        /* Its done function runs later with cancelled set and frees the job. */
        conn->job->conn = NULL;
        (void)workers_cancel(&conn->chat->workers, conn->job_id);
        conn->job = NULL;
}
