#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "workers.h"

/* A gate that work functions wait at, so a test decides when jobs finish. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_changed = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static int gate_waiting;

static pthread_t loop_thread;

struct job {
        bool wait_at_gate;
        atomic_bool worked;
        bool worked_off_loop_thread;
        int done_calls;
        bool cancelled;
        bool done_on_loop_thread;
        /* Set to chain a second job from this one's done function. */
        struct workers *chain_pool;
        struct job *chain_next;
};

static void gate_set(bool open)
{
        pthread_mutex_lock(&gate_lock);
        gate_open = open;
        pthread_cond_broadcast(&gate_changed);
        pthread_mutex_unlock(&gate_lock);
}

/* Wait until n work functions sit at the gate. */
static void gate_wait_for(int n)
{
        pthread_mutex_lock(&gate_lock);
        while (gate_waiting < n)
                pthread_cond_wait(&gate_changed, &gate_lock);
        pthread_mutex_unlock(&gate_lock);
}

static void work(void *arg)
{
        struct job *job = arg;

        job->worked_off_loop_thread = !pthread_equal(pthread_self(), loop_thread);
        if (job->wait_at_gate) {
                pthread_mutex_lock(&gate_lock);
                gate_waiting++;
                pthread_cond_broadcast(&gate_changed);
                while (!gate_open)
                        pthread_cond_wait(&gate_changed, &gate_lock);
                gate_waiting--;
                pthread_mutex_unlock(&gate_lock);
        }
        atomic_store(&job->worked, true);
}

static void done(void *arg, bool cancelled)
{
        struct job *job = arg;

        job->done_calls++;
        job->cancelled = cancelled;
        job->done_on_loop_thread = pthread_equal(pthread_self(), loop_thread);
        if (job->chain_pool)
                assert_int_equal(workers_submit(job->chain_pool, work, done, job->chain_next, NULL),
                                 0);
}

static int setup(void **state)
{
        (void)state;
        loop_thread = pthread_self();
        gate_set(false);
        gate_waiting = 0;
        return 0;
}

static void jobs_complete_and_done_runs_on_the_loop_thread(void **state)
{
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct workers pool;
        struct job jobs[20] = {0};

        (void)state;
        assert_int_equal(workers_init(&pool, loop, 2, 32), 0);
        for (int i = 0; i < 20; i++)
                assert_int_equal(workers_submit(&pool, work, done, &jobs[i], NULL), 0);
        assert_int_equal(workers_outstanding(&pool), 20);
        /* The loop runs while jobs are out and returns once every done has run. */
        ev_run(loop, 0);
        assert_int_equal(workers_outstanding(&pool), 0);
        for (int i = 0; i < 20; i++) {
                assert_true(atomic_load(&jobs[i].worked));
                assert_true(jobs[i].worked_off_loop_thread);
                assert_int_equal(jobs[i].done_calls, 1);
                assert_false(jobs[i].cancelled);
                assert_true(jobs[i].done_on_loop_thread);
        }
        workers_fini(&pool);
        ev_loop_destroy(loop);
}

static void idle_pool_does_not_keep_the_loop_running(void **state)
{
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct workers pool;

        (void)state;
        assert_int_equal(workers_init(&pool, loop, 1, 4), 0);
        /* Returns at once: nothing but the idle pool's watcher is active. */
        ev_run(loop, 0);
        workers_fini(&pool);
        ev_loop_destroy(loop);
}

static void full_pool_refuses_with_ebusy_until_a_job_is_done(void **state)
{
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct workers pool;
        struct job first = {.wait_at_gate = true}, second = {0}, third = {0};

        (void)state;
        assert_int_equal(workers_init(&pool, loop, 1, 2), 0);
        assert_int_equal(workers_submit(&pool, work, done, &first, NULL), 0);
        assert_int_equal(workers_submit(&pool, work, done, &second, NULL), 0);
        assert_int_equal(workers_submit(&pool, work, done, &third, NULL), -EBUSY);
        gate_set(true);
        ev_run(loop, 0);
        assert_int_equal(first.done_calls, 1);
        assert_int_equal(second.done_calls, 1);
        assert_int_equal(third.done_calls, 0);
        assert_int_equal(workers_submit(&pool, work, done, &third, NULL), 0);
        ev_run(loop, 0);
        assert_int_equal(third.done_calls, 1);
        workers_fini(&pool);
        ev_loop_destroy(loop);
}

static void cancelled_queued_job_skips_its_work_but_done_runs(void **state)
{
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct workers pool;
        struct job blocker = {.wait_at_gate = true}, queued = {0};
        workers_job_id queued_id = 0;

        (void)state;
        assert_int_equal(workers_init(&pool, loop, 1, 4), 0);
        assert_int_equal(workers_submit(&pool, work, done, &blocker, NULL), 0);
        gate_wait_for(1);
        assert_int_equal(workers_submit(&pool, work, done, &queued, &queued_id), 0);
        assert_int_not_equal(queued_id, 0);
        assert_int_equal(workers_cancel(&pool, queued_id), 0);
        /* The done function is never called from inside cancel. */
        assert_int_equal(queued.done_calls, 0);
        gate_set(true);
        ev_run(loop, 0);
        assert_false(atomic_load(&queued.worked));
        assert_int_equal(queued.done_calls, 1);
        assert_true(queued.cancelled);
        assert_true(queued.done_on_loop_thread);
        assert_int_equal(blocker.done_calls, 1);
        assert_false(blocker.cancelled);
        workers_fini(&pool);
        ev_loop_destroy(loop);
}

static void cancelled_running_job_finishes_its_work_and_done_is_told(void **state)
{
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct workers pool;
        struct job running = {.wait_at_gate = true};
        workers_job_id id = 0;

        (void)state;
        assert_int_equal(workers_init(&pool, loop, 1, 4), 0);
        assert_int_equal(workers_submit(&pool, work, done, &running, &id), 0);
        gate_wait_for(1);
        assert_int_equal(workers_cancel(&pool, id), 0);
        gate_set(true);
        ev_run(loop, 0);
        assert_true(atomic_load(&running.worked));
        assert_int_equal(running.done_calls, 1);
        assert_true(running.cancelled);
        workers_fini(&pool);
        ev_loop_destroy(loop);
}

static void cancel_after_done_is_enoent_even_when_the_slot_is_reused(void **state)
{
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct workers pool;
        struct job first = {0}, second = {.wait_at_gate = true};
        workers_job_id first_id = 0, second_id = 0;

        (void)state;
        assert_int_equal(workers_init(&pool, loop, 1, 1), 0);
        assert_int_equal(workers_submit(&pool, work, done, &first, &first_id), 0);
        ev_run(loop, 0);
        assert_int_equal(workers_cancel(&pool, first_id), -ENOENT);
        /* The one slot now holds another job; the old id must not reach it. */
        assert_int_equal(workers_submit(&pool, work, done, &second, &second_id), 0);
        assert_int_not_equal(first_id, second_id);
        assert_int_equal(workers_cancel(&pool, first_id), -ENOENT);
        assert_int_equal(workers_cancel(&pool, 0), -ENOENT);
        gate_set(true);
        ev_run(loop, 0);
        assert_false(second.cancelled);
        workers_fini(&pool);
        ev_loop_destroy(loop);
}

static void done_function_may_submit_the_next_job(void **state)
{
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct workers pool;
        struct job second = {0};
        struct job first = {.chain_pool = &pool, .chain_next = &second};

        (void)state;
        /* One slot: the chained submit only works because the slot is freed first. */
        assert_int_equal(workers_init(&pool, loop, 1, 1), 0);
        assert_int_equal(workers_submit(&pool, work, done, &first, NULL), 0);
        ev_run(loop, 0);
        assert_int_equal(first.done_calls, 1);
        assert_int_equal(second.done_calls, 1);
        assert_false(second.cancelled);
        workers_fini(&pool);
        ev_loop_destroy(loop);
}

static void *open_gate_later(void *arg)
{
        struct timespec pause = {0, 100 * 1000 * 1000};

        (void)arg;
        nanosleep(&pause, NULL);
        gate_set(true);
        return NULL;
}

static void fini_with_jobs_out_calls_every_done_as_cancelled(void **state)
{
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct workers pool;
        struct job running = {.wait_at_gate = true}, waiting[3] = {0};
        pthread_t opener;

        (void)state;
        assert_int_equal(workers_init(&pool, loop, 1, 8), 0);
        assert_int_equal(workers_submit(&pool, work, done, &running, NULL), 0);
        gate_wait_for(1);
        for (int i = 0; i < 3; i++)
                assert_int_equal(workers_submit(&pool, work, done, &waiting[i], NULL), 0);
        /* fini waits for the running work, which the gate holds for a moment. */
        assert_int_equal(pthread_create(&opener, NULL, open_gate_later, NULL), 0);
        workers_fini(&pool);
        pthread_join(opener, NULL);
        assert_true(atomic_load(&running.worked));
        assert_int_equal(running.done_calls, 1);
        assert_true(running.cancelled);
        for (int i = 0; i < 3; i++) {
                assert_false(atomic_load(&waiting[i].worked));
                assert_int_equal(waiting[i].done_calls, 1);
                assert_true(waiting[i].cancelled);
                assert_true(waiting[i].done_on_loop_thread);
        }
        ev_loop_destroy(loop);
}

static void submit_refuses_missing_functions_and_counts_over_maximum(void **state)
{
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct workers pool;
        struct job job = {0};

        (void)state;
        assert_int_equal(workers_init(&pool, loop, WORKERS_THREADS_MAX + 1, 4), -EINVAL);
        assert_int_equal(workers_init(&pool, loop, 1, WORKERS_JOBS_MAX + 1), -EINVAL);
        assert_int_equal(workers_init(&pool, loop, 0, 0), 0);
        assert_int_equal(pool.thread_count, WORKERS_THREADS_DEFAULT);
        assert_int_equal(pool.max_jobs, WORKERS_JOBS_DEFAULT);
        assert_int_equal(workers_submit(&pool, NULL, done, &job, NULL), -EINVAL);
        assert_int_equal(workers_submit(&pool, work, NULL, &job, NULL), -EINVAL);
        workers_fini(&pool);
        ev_loop_destroy(loop);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup(jobs_complete_and_done_runs_on_the_loop_thread, setup),
            cmocka_unit_test_setup(idle_pool_does_not_keep_the_loop_running, setup),
            cmocka_unit_test_setup(full_pool_refuses_with_ebusy_until_a_job_is_done, setup),
            cmocka_unit_test_setup(cancelled_queued_job_skips_its_work_but_done_runs, setup),
            cmocka_unit_test_setup(cancelled_running_job_finishes_its_work_and_done_is_told, setup),
            cmocka_unit_test_setup(cancel_after_done_is_enoent_even_when_the_slot_is_reused, setup),
            cmocka_unit_test_setup(done_function_may_submit_the_next_job, setup),
            cmocka_unit_test_setup(fini_with_jobs_out_calls_every_done_as_cancelled, setup),
            cmocka_unit_test_setup(submit_refuses_missing_functions_and_counts_over_maximum, setup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
