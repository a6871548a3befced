#include "workers.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>

enum job_state {
        JOB_FREE,
        JOB_QUEUED,  /* in queue, waiting for a worker */
        JOB_RUNNING, /* a worker runs its work function */
        JOB_DONE,    /* in the done list, waiting for the loop */
};

struct workers_job {
        struct workers_job *next;
        workers_work_fn work;
        workers_done_fn done;
        void *arg;
        workers_job_id id;
        enum job_state state;
        bool cancelled;
};

static void list_append(struct workers_job **head, struct workers_job **tail,
                        struct workers_job *job)
{
        job->next = NULL;
        if (*tail)
                (*tail)->next = job;
        else
                *head = job;
        *tail = job;
}

static struct workers_job *list_pop(struct workers_job **head, struct workers_job **tail)
{
        struct workers_job *job = *head;

        if (job) {
                *head = job->next;
                if (!*head)
                        *tail = NULL;
                job->next = NULL;
        }
        return job;
}

static void list_remove(struct workers_job **head, struct workers_job **tail,
                        struct workers_job *job)
{
        struct workers_job *previous = NULL;

        /* A walk of at most max_jobs slots, and only when a queued job is cancelled. */
        for (struct workers_job *at = *head; at; previous = at, at = at->next) {
                if (at != job)
                        continue;
                if (previous)
                        previous->next = job->next;
                else
                        *head = job->next;
                if (*tail == job)
                        *tail = previous;
                job->next = NULL;
                return;
        }
}

static void *worker_main(void *data)
{
        struct workers *workers = data;

        pthread_mutex_lock(&workers->lock);
        for (;;) {
                struct workers_job *job;

                while (!workers->stopping && !workers->queue_head)
                        pthread_cond_wait(&workers->wake, &workers->lock);
                if (workers->stopping)
                        break;
                job = list_pop(&workers->queue_head, &workers->queue_tail);
                job->state = JOB_RUNNING;
                pthread_mutex_unlock(&workers->lock);

                /* The slot is not freed while RUNNING, so work and arg stay put. */
                job->work(job->arg);

                pthread_mutex_lock(&workers->lock);
                job->state = JOB_DONE;
                list_append(&workers->done_head, &workers->done_tail, job);
                pthread_mutex_unlock(&workers->lock);
                ev_async_send(workers->loop, &workers->async_watcher);
                pthread_mutex_lock(&workers->lock);
        }
        pthread_mutex_unlock(&workers->lock);
        return NULL;
}

/* The loop waits for the pool only while jobs are out, so an idle pool never keeps it running. */
static void update_reference(struct workers *workers)
{
        if (workers->outstanding > 0 && !workers->watcher_referenced) {
                ev_ref(workers->loop);
                workers->watcher_referenced = true;
        } else if (workers->outstanding == 0 && workers->watcher_referenced) {
                ev_unref(workers->loop);
                workers->watcher_referenced = false;
        }
}

/* Run the done function of each job in the done list; every one counts as cancelled if stopping. */
static void run_done_jobs(struct workers *workers, bool stopping)
{
        for (;;) {
                struct workers_job *job;
                workers_done_fn done;
                void *arg;
                bool cancelled;

                pthread_mutex_lock(&workers->lock);
                job = list_pop(&workers->done_head, &workers->done_tail);
                if (!job) {
                        pthread_mutex_unlock(&workers->lock);
                        break;
                }
                done = job->done;
                arg = job->arg;
                cancelled = job->cancelled || stopping;
                /* Free the slot first, so a done function may submit the next job. */
                job->state = JOB_FREE;
                job->id = 0;
                job->arg = NULL;
                job->next = workers->free_list;
                workers->free_list = job;
                workers->outstanding--;
                pthread_mutex_unlock(&workers->lock);
                if (!stopping)
                        update_reference(workers);
                done(arg, cancelled);
        }
}

static void on_async(struct ev_loop *loop, ev_async *watcher, int revents)
{
        struct workers *workers = watcher->data;

        (void)loop;
        (void)revents;
        run_done_jobs(workers, false);
}

static void stop_threads(struct workers *workers)
{
        pthread_mutex_lock(&workers->lock);
        workers->stopping = true;
        pthread_cond_broadcast(&workers->wake);
        pthread_mutex_unlock(&workers->lock);
        for (size_t i = 0; i < workers->thread_count; i++)
                pthread_join(workers->threads[i], NULL);
        workers->thread_count = 0;
}

int workers_init(struct workers *workers, struct ev_loop *loop, size_t thread_count,
                 size_t max_jobs)
{
        sigset_t all, previous;
        int r;

        if (thread_count == 0)
                thread_count = WORKERS_THREADS_DEFAULT;
        if (max_jobs == 0)
                max_jobs = WORKERS_JOBS_DEFAULT;
        if (thread_count > WORKERS_THREADS_MAX || max_jobs > WORKERS_JOBS_MAX)
                return -EINVAL;
        workers->loop = loop;
        workers->thread_count = 0;
        workers->max_jobs = max_jobs;
        workers->outstanding = 0;
        workers->queue_head = workers->queue_tail = NULL;
        workers->done_head = workers->done_tail = NULL;
        workers->generation = 0;
        workers->stopping = false;
        workers->watcher_referenced = true;
        workers->jobs = calloc(max_jobs, sizeof(*workers->jobs));
        if (!workers->jobs)
                return -ENOMEM;
        workers->free_list = NULL;
        for (size_t i = max_jobs; i-- > 0;) {
                workers->jobs[i].next = workers->free_list;
                workers->free_list = &workers->jobs[i];
        }
        r = -pthread_mutex_init(&workers->lock, NULL);
        if (r < 0)
                goto fail_jobs;
        r = -pthread_cond_init(&workers->wake, NULL);
        if (r < 0)
                goto fail_lock;

        ev_async_init(&workers->async_watcher, on_async);
        workers->async_watcher.data = workers;
        ev_async_start(loop, &workers->async_watcher);
        update_reference(workers);

        /* Workers block every signal, so signals reach the loop thread's handlers. */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &previous);
        for (size_t i = 0; i < thread_count; i++) {
                r = -pthread_create(&workers->threads[i], NULL, worker_main, workers);
                if (r < 0)
                        break;
                workers->thread_count++;
        }
        pthread_sigmask(SIG_SETMASK, &previous, NULL);
        if (r < 0)
                goto fail_threads;
        return 0;

fail_threads:
        stop_threads(workers);
        ev_ref(loop);
        ev_async_stop(loop, &workers->async_watcher);
        pthread_cond_destroy(&workers->wake);
fail_lock:
        pthread_mutex_destroy(&workers->lock);
fail_jobs:
        free(workers->jobs);
        workers->jobs = NULL;
        return r;
}

int workers_submit(struct workers *workers, workers_work_fn work, workers_done_fn done, void *arg,
                   workers_job_id *id)
{
        struct workers_job *job;

        if (!work || !done)
                return -EINVAL;
        pthread_mutex_lock(&workers->lock);
        if (workers->stopping) {
                pthread_mutex_unlock(&workers->lock);
                return -ESHUTDOWN;
        }
        job = workers->free_list;
        if (!job) {
                pthread_mutex_unlock(&workers->lock);
                return -EBUSY;
        }
        workers->free_list = job->next;
        job->work = work;
        job->done = done;
        job->arg = arg;
        job->cancelled = false;
        job->state = JOB_QUEUED;
        /* The slot index rides in the low bits; the generation tells reuses apart. */
        workers->generation++;
        job->id = workers->generation * WORKERS_JOBS_MAX + (workers_job_id)(job - workers->jobs);
        list_append(&workers->queue_head, &workers->queue_tail, job);
        workers->outstanding++;
        if (id)
                *id = job->id;
        pthread_cond_signal(&workers->wake);
        pthread_mutex_unlock(&workers->lock);
        update_reference(workers);
        return 0;
}

int workers_cancel(struct workers *workers, workers_job_id id)
{
        size_t index = id % WORKERS_JOBS_MAX;
        struct workers_job *job;
        bool wake_loop = false;

        if (id == 0 || index >= workers->max_jobs)
                return -ENOENT;
        job = &workers->jobs[index];
        pthread_mutex_lock(&workers->lock);
        if (job->state == JOB_FREE || job->id != id) {
                pthread_mutex_unlock(&workers->lock);
                return -ENOENT;
        }
        job->cancelled = true;
        if (job->state == JOB_QUEUED) {
                /* Not started: skip the work; done still runs, from the loop, never from here. */
                list_remove(&workers->queue_head, &workers->queue_tail, job);
                job->state = JOB_DONE;
                list_append(&workers->done_head, &workers->done_tail, job);
                wake_loop = true;
        }
        pthread_mutex_unlock(&workers->lock);
        if (wake_loop)
                ev_async_send(workers->loop, &workers->async_watcher);
        return 0;
}

size_t workers_outstanding(const struct workers *workers)
{
        return workers->outstanding;
}

void workers_fini(struct workers *workers)
{
        if (!workers->jobs)
                return;
        stop_threads(workers);
        /* No thread is left, so the lists are ours: queued jobs join the done list. */
        for (struct workers_job *job;
             (job = list_pop(&workers->queue_head, &workers->queue_tail));) {
                job->state = JOB_DONE;
                list_append(&workers->done_head, &workers->done_tail, job);
        }
        run_done_jobs(workers, true);
        if (!workers->watcher_referenced)
                ev_ref(workers->loop);
        workers->watcher_referenced = false;
        ev_async_stop(workers->loop, &workers->async_watcher);
        pthread_cond_destroy(&workers->wake);
        pthread_mutex_destroy(&workers->lock);
        free(workers->jobs);
        workers->jobs = NULL;
}
