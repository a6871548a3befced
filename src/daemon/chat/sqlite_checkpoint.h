#ifndef ECHOD_CHAT_SQLITE_CHECKPOINT_H
#define ECHOD_CHAT_SQLITE_CHECKPOINT_H

#include <stdint.h>

#include <sqlite3.h>

/*
 * WAL checkpoints off the loop thread. A checkpoint copies the WAL into the
 * database and calls fdatasync twice, which took up to 80 ms on a busy disk:
 * run by SQLite's automatic checkpoint, inside a commit, that stalled the
 * whole loop (every service). Here the loop's connection only counts the
 * WAL's pages after each commit (sqlite3_wal_hook, which also turns the
 * automatic checkpoint off) and, past a threshold, wakes a thread that runs
 * a PASSIVE checkpoint on its own connection: it never blocks the writer,
 * and the writer starts the WAL over once it has all been copied.
 */

struct sqlite_checkpoint;

/* WAL pages after which a checkpoint is asked for (SQLite's own default). */
#define SQLITE_CHECKPOINT_PAGES 1000

/*
 * The WAL starts over only when a commit finds it all copied. Writes that
 * never pause would keep the thread's copy one step behind and the WAL
 * growing; at this many pages (16 MiB of 4 KiB pages) the commit checkpoints
 * itself, on the loop, as SQLite would have done all along.
 */
#define SQLITE_CHECKPOINT_PAGES_MAX 4000

/*
 * Start the thread for the database at path and hook it into db, the
 * loop's connection to it. Returns 0 or -errno.
 */
int sqlite_checkpoint_start(struct sqlite_checkpoint **out, sqlite3 *db, const char *path);

/* Stop and join the thread, unhook db; NULL is fine. */
void sqlite_checkpoint_stop(struct sqlite_checkpoint *checkpoint);

/* Checkpoints of the thread that copied something, so far (for tests and benchmarks). */
uint64_t sqlite_checkpoint_count(struct sqlite_checkpoint *checkpoint);

/* Wait up to timeout_ms for the thread's count to reach count. Returns 0 or -ETIMEDOUT. */
int sqlite_checkpoint_wait(struct sqlite_checkpoint *checkpoint, uint64_t count, int timeout_ms);

#endif
