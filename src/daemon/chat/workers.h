#ifndef ECHOD_CHAT_WORKERS_H
#define ECHOD_CHAT_WORKERS_H

#include <ev.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A small pool of threads for slow jobs (argon2id hashing) that must not
 * stall the event loop.
 *
 * A job is a work function, run on a worker thread, and a done function,
 * run afterwards on the loop thread from an ev_async watcher, both given the
 * job's arg. The done function runs exactly once for every job that
 * workers_submit() accepted, whatever happens, so it is the one place that
 * frees arg.
 *
 * Thread rules: workers_init, workers_submit, workers_cancel and
 * workers_fini are called on the loop thread only. A work function touches
 * only its arg (and thread-safe libraries such as libsodium), never the
 * loop or a connection: anything the done function needs goes into arg.
 *
 * Cancelling: a connection that closes while its job is out calls
 * workers_cancel() and forgets the job. Its done function still runs, with
 * cancelled set, and must then free arg without touching the connection.
 * A job cancelled before a worker took it never runs its work function.
 */

#define WORKERS_THREADS_DEFAULT 2
#define WORKERS_THREADS_MAX     16
#define WORKERS_JOBS_DEFAULT    64
#define WORKERS_JOBS_MAX        4096

/* Runs on a worker thread. */
typedef void (*workers_work_fn)(void *arg);

/* Runs on the loop thread once the work is over, or was cancelled, or the pool stopped. */
typedef void (*workers_done_fn)(void *arg, bool cancelled);

/* Names a submitted job until its done function has run; 0 is never a job. */
typedef uint64_t workers_job_id;

struct workers_job;

struct workers {
        struct ev_loop *loop;
        ev_async async_watcher;
        bool watcher_referenced; /* the loop counts the watcher while jobs are out */
        pthread_mutex_t lock;
        pthread_cond_t wake;
        pthread_t threads[WORKERS_THREADS_MAX];
        size_t thread_count;
        struct workers_job *jobs; /* max_jobs slots */
        size_t max_jobs;
        size_t outstanding; /* jobs submitted whose done function has not run yet */
        /* Singly linked lists of slots, guarded by lock. */
        struct workers_job *free_list;
        struct workers_job *queue_head, *queue_tail; /* waiting for a worker */
        struct workers_job *done_head, *done_tail;   /* waiting for the loop */
        uint64_t generation;
        bool stopping;
};

/*
 * Start thread_count threads (0 for WORKERS_THREADS_DEFAULT) that serve up
 * to max_jobs jobs at once (0 for WORKERS_JOBS_DEFAULT), counting every job
 * from submit until its done function has run. Returns 0, -EINVAL for a
 * count over its maximum, or -errno.
 */
int workers_init(struct workers *workers, struct ev_loop *loop, size_t thread_count,
                 size_t max_jobs);

/*
 * Queue a job. Returns 0 and sets *id (when id is not NULL), or -EBUSY when
 * max_jobs jobs are out already, or -ESHUTDOWN while the pool stops.
 */
int workers_submit(struct workers *workers, workers_work_fn work, workers_done_fn done, void *arg,
                   workers_job_id *id);

/*
 * Tell the pool the job's owner is gone: its done function will get
 * cancelled = true, and its work will not start if it has not yet. Returns
 * 0, or -ENOENT if the job's done function has run already.
 */
int workers_cancel(struct workers *workers, workers_job_id id);

/* Jobs submitted whose done function has not run yet. */
size_t workers_outstanding(const struct workers *workers);

/*
 * Stop the pool: wait for work functions already running to return, then
 * run the done function of every job still out, with cancelled = true
 * (jobs not yet started never run their work), and free the slots and threads.
 */
void workers_fini(struct workers *workers);

#endif
