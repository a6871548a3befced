#ifndef ECHOD_CHAT_STORE_SQLITE_H
#define ECHOD_CHAT_STORE_SQLITE_H

#include <stddef.h>

#include "store.h"

#define STORE_SQLITE_FILE                 "chat.db"
#define STORE_SQLITE_HISTORY_DEFAULT      1000
#define STORE_SQLITE_BUSY_TIMEOUT_DEFAULT 2000 /* ms */

/* The schema this code reads and writes, kept in PRAGMA user_version. */
#define STORE_SQLITE_SCHEMA_VERSION 1

struct store_sqlite_options {
        const char *directory; /* holds chat.db; must exist */
        size_t history_max;    /* messages kept; 0 for STORE_SQLITE_HISTORY_DEFAULT */
        int busy_timeout_ms;   /* wait for a lock held by another process; 0 for the default */
};

/*
 * Open (creating if needed, mode 0600) the SQLite store in
 * options->directory and fill *store. Returns 0, -ENAMETOOLONG, -ENOTSUP
 * for a database written by a newer schema, -EBADMSG for a file that is not
 * a sound database, or another -errno.
 */
int store_sqlite_open(struct store *store, const struct store_sqlite_options *options);

struct sqlite_checkpoint;

/* The store's checkpoint thread (sqlite_checkpoint.h), for tests and benchmarks. */
struct sqlite_checkpoint *store_sqlite_checkpoint(struct store *store);

#endif
