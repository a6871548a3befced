#include "sqlite_checkpoint.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct sqlite_checkpoint {
        sqlite3 *writer; /* the loop's connection, hooked */
        sqlite3 *db;     /* the thread's own connection */
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_mutex_t running; /* held during a checkpoint, by the thread or the writer */
        pthread_cond_t wake;
        pthread_cond_t finished;
        bool asked, stopping;
        int next_pages; /* the WAL size that asks for the next checkpoint; the writer's own */
        uint64_t count; /* under lock */
};

/*
 * PASSIVE passes until the WAL is all copied, so that the writer's next
 * commit starts it over: frames committed during a pass are left for the
 * next one. At most a few, as writes that never pause would never let it
 * finish (the writer then copies at SQLITE_CHECKPOINT_PAGES_MAX). Returns
 * whether any pass copied something.
 */
static bool copy_wal(struct sqlite_checkpoint *checkpoint)
{
        int rc, frames = 0, copied = 0;
        bool any = false;

        for (int pass = 0; pass < 4; pass++) {
                /* PASSIVE: copies what no reader still needs and never waits for a lock. */
                pthread_mutex_lock(&checkpoint->running);
                rc = sqlite3_wal_checkpoint_v2(checkpoint->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                               &frames, &copied);
                pthread_mutex_unlock(&checkpoint->running);
                if (rc != SQLITE_OK || copied <= 0)
                        break;
                any = true;
                if (copied >= frames)
                        break;
        }
        return any;
}

static void *run(void *arg)
{
        struct sqlite_checkpoint *checkpoint = arg;
        bool copied;

        pthread_mutex_lock(&checkpoint->lock);
        for (;;) {
                while (!checkpoint->asked && !checkpoint->stopping)
                        pthread_cond_wait(&checkpoint->wake, &checkpoint->lock);
                if (checkpoint->stopping)
                        break;
                checkpoint->asked = false;
                pthread_mutex_unlock(&checkpoint->lock);
                copied = copy_wal(checkpoint);
                pthread_mutex_lock(&checkpoint->lock);
                if (copied)
                        checkpoint->count++;
                pthread_cond_broadcast(&checkpoint->finished);
        }
        pthread_mutex_unlock(&checkpoint->lock);
        return NULL;
}

/* After each commit on the loop's connection: pages is the WAL's size now. */
static int on_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
        struct sqlite_checkpoint *checkpoint = arg;

        /*
         * The WAL outgrew the thread: copy it all here, once the thread's
         * pass (if any) is over, so that the next commit starts it over. The
         * commit is done whatever this returns; an error would only make it
         * look failed.
         */
        if (pages >= SQLITE_CHECKPOINT_PAGES_MAX) {
                pthread_mutex_lock(&checkpoint->running);
                (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
                pthread_mutex_unlock(&checkpoint->running);
                checkpoint->next_pages = SQLITE_CHECKPOINT_PAGES;
                return SQLITE_OK;
        }
        /*
         * One pass per 1000 new pages, as SQLite's own checkpoint: asking on
         * every commit past the threshold would run pass after pass, each
         * with its two fdatasync calls, while writes keep the WAL from
         * starting over.
         */
        if (pages < checkpoint->next_pages) {
                if (pages < SQLITE_CHECKPOINT_PAGES)
                        checkpoint->next_pages = SQLITE_CHECKPOINT_PAGES; /* it started over */
                return SQLITE_OK;
        }
        checkpoint->next_pages = pages + SQLITE_CHECKPOINT_PAGES;
        pthread_mutex_lock(&checkpoint->lock);
        checkpoint->asked = true;
        pthread_cond_signal(&checkpoint->wake);
        pthread_mutex_unlock(&checkpoint->lock);
        return SQLITE_OK;
}

/* Close the thread's connection and free; the thread is not running. */
static void checkpoint_free(struct sqlite_checkpoint *checkpoint)
{
        sqlite3_close(checkpoint->db);
        pthread_cond_destroy(&checkpoint->wake);
        pthread_cond_destroy(&checkpoint->finished);
        pthread_mutex_destroy(&checkpoint->lock);
        pthread_mutex_destroy(&checkpoint->running);
        free(checkpoint);
}

int sqlite_checkpoint_start(struct sqlite_checkpoint **out, sqlite3 *db, const char *path)
{
        struct sqlite_checkpoint *checkpoint = calloc(1, sizeof(*checkpoint));
        int rc, r;

        if (!checkpoint)
                return -ENOMEM;
        checkpoint->writer = db;
        checkpoint->next_pages = SQLITE_CHECKPOINT_PAGES;
        pthread_mutex_init(&checkpoint->lock, NULL);
        pthread_mutex_init(&checkpoint->running, NULL);
        pthread_cond_init(&checkpoint->wake, NULL);
        pthread_cond_init(&checkpoint->finished, NULL);
        rc = sqlite3_open_v2(path, &checkpoint->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                             NULL);
        if (rc != SQLITE_OK) {
                r = rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
                goto fail;
        }
        /*
         * A connection learns that the database is in WAL mode, and opens
         * the WAL, at its first read; until then a checkpoint does nothing.
         */
        rc = sqlite3_exec(checkpoint->db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
                r = rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
                goto fail;
        }
        r = -pthread_create(&checkpoint->thread, NULL, run, checkpoint);
        if (r < 0)
                goto fail;
        sqlite3_wal_hook(db, on_commit, checkpoint);
        *out = checkpoint;
        return 0;
fail:
        checkpoint_free(checkpoint);
        return r;
}

void sqlite_checkpoint_stop(struct sqlite_checkpoint *checkpoint)
{
        if (!checkpoint)
                return;
        sqlite3_wal_hook(checkpoint->writer, NULL, NULL);
        pthread_mutex_lock(&checkpoint->lock);
        checkpoint->stopping = true;
        pthread_cond_signal(&checkpoint->wake);
        pthread_mutex_unlock(&checkpoint->lock);
        pthread_join(checkpoint->thread, NULL);
        checkpoint_free(checkpoint);
}

uint64_t sqlite_checkpoint_count(struct sqlite_checkpoint *checkpoint)
{
        uint64_t count;

        pthread_mutex_lock(&checkpoint->lock);
        count = checkpoint->count;
        pthread_mutex_unlock(&checkpoint->lock);
        return count;
}

int sqlite_checkpoint_wait(struct sqlite_checkpoint *checkpoint, uint64_t count, int timeout_ms)
{
        struct timespec deadline;
        int r = 0;

        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (deadline.tv_nsec >= 1000000000) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&checkpoint->lock);
        while (checkpoint->count < count && r == 0)
                r = pthread_cond_timedwait(&checkpoint->finished, &checkpoint->lock, &deadline);
        r = checkpoint->count >= count ? 0 : -ETIMEDOUT;
        pthread_mutex_unlock(&checkpoint->lock);
        return r;
}
