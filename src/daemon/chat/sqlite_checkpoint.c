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
        pthread_cond_t wake;
        pthread_cond_t finished;
        bool asked, stopping;
        uint64_t count; /* under lock */
};

static void *run(void *arg)
{
        struct sqlite_checkpoint *checkpoint = arg;

        pthread_mutex_lock(&checkpoint->lock);
        for (;;) {
                while (!checkpoint->asked && !checkpoint->stopping)
                        pthread_cond_wait(&checkpoint->wake, &checkpoint->lock);
                if (checkpoint->stopping)
                        break;
                checkpoint->asked = false;
                pthread_mutex_unlock(&checkpoint->lock);
                /* PASSIVE: copies what no reader still needs and never waits for a lock. */
                (void)sqlite3_wal_checkpoint_v2(checkpoint->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                                NULL, NULL);
                pthread_mutex_lock(&checkpoint->lock);
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

        if (pages < SQLITE_CHECKPOINT_PAGES)
                return SQLITE_OK;
        if (pages >= SQLITE_CHECKPOINT_PAGES_MAX)
                return sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&checkpoint->lock);
        checkpoint->asked = true;
        pthread_cond_signal(&checkpoint->wake);
        pthread_mutex_unlock(&checkpoint->lock);
        return SQLITE_OK;
}

int sqlite_checkpoint_start(struct sqlite_checkpoint **out, sqlite3 *db, const char *path)
{
        struct sqlite_checkpoint *checkpoint = calloc(1, sizeof(*checkpoint));
        int rc, r;

        if (!checkpoint)
                return -ENOMEM;
        checkpoint->writer = db;
        pthread_mutex_init(&checkpoint->lock, NULL);
        pthread_cond_init(&checkpoint->wake, NULL);
        pthread_cond_init(&checkpoint->finished, NULL);
        rc = sqlite3_open_v2(path, &checkpoint->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                             NULL);
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
        sqlite3_close(checkpoint->db);
        pthread_cond_destroy(&checkpoint->wake);
        pthread_cond_destroy(&checkpoint->finished);
        pthread_mutex_destroy(&checkpoint->lock);
        free(checkpoint);
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
        sqlite3_close(checkpoint->db);
        pthread_cond_destroy(&checkpoint->wake);
        pthread_cond_destroy(&checkpoint->finished);
        pthread_mutex_destroy(&checkpoint->lock);
        free(checkpoint);
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
