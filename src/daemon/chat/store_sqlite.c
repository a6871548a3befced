#include "store_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlite_checkpoint.h"

/*
 * The chat store in one SQLite file. Every statement is prepared once at
 * open and kept; a call binds, steps and resets one or a few of them.
 */

enum statement {
        BEGIN,
        COMMIT,
        ROLLBACK,
        USER_GET,
        USER_CREATE,
        USER_SET_HASH,
        USER_REMOVE,
        USER_LIST,
        IDENTITY_GET,
        IDENTITY_SET,
        IDENTITY_FORGET_ALL,
        SESSION_CREATE,
        SESSION_LOOKUP,
        SESSION_TOUCH,
        SESSION_REVOKE,
        SESSION_REVOKE_USER,
        SESSION_PURGE_EXPIRED,
        HISTORY_APPEND,
        HISTORY_TRIM,
        HISTORY_LAST,
        STATEMENT_COUNT,
};

static const char *const statement_sql[STATEMENT_COUNT] = {
    [BEGIN] = "BEGIN IMMEDIATE",
    [COMMIT] = "COMMIT",
    [ROLLBACK] = "ROLLBACK",
    [USER_GET] = "SELECT name, hash, created FROM users WHERE name = ?1",
    [USER_CREATE] = "INSERT INTO users (name, hash, created) VALUES (?1, ?2, ?3)",
    [USER_SET_HASH] = "UPDATE users SET hash = ?2 WHERE name = ?1",
    [USER_REMOVE] = "DELETE FROM users WHERE name = ?1",
    [USER_LIST] = "SELECT name, created FROM users ORDER BY name",
    [IDENTITY_GET] = "SELECT users.name FROM identities JOIN users"
                     " ON users.name = identities.name WHERE address = ?1",
    [IDENTITY_SET] = "INSERT INTO identities (address, name) VALUES (?1, ?2)"
                     " ON CONFLICT (address) DO UPDATE SET name = excluded.name",
    [IDENTITY_FORGET_ALL] = "DELETE FROM identities",
    [SESSION_CREATE] = "INSERT INTO sessions (token_hash, name, created, expires, last_used)"
                       " SELECT ?1, name, ?3, ?4, ?3 FROM users WHERE name = ?2",
    [SESSION_LOOKUP] = "SELECT token_hash, sessions.name, sessions.created, expires,"
                       " last_used FROM sessions JOIN users ON users.name = sessions.name"
                       " WHERE token_hash = ?1",
    [SESSION_TOUCH] = "UPDATE sessions SET last_used = max(last_used, ?2)"
                      " WHERE token_hash = ?1",
    [SESSION_REVOKE] = "DELETE FROM sessions WHERE token_hash = ?1",
    [SESSION_REVOKE_USER] = "DELETE FROM sessions WHERE name = ?1",
    [SESSION_PURGE_EXPIRED] = "DELETE FROM sessions WHERE expires <= ?1"
                              " OR (?2 > 0 AND last_used <= ?1 - ?2)",
    [HISTORY_APPEND] = "INSERT INTO history (time, name, text) VALUES (?1, ?2, ?3)",
    /* Ids only grow, so the newest max are those above last - max; gaps keep fewer. */
    [HISTORY_TRIM] = "DELETE FROM history WHERE id <= ?1",
    [HISTORY_LAST] = "SELECT id, time, name, text FROM"
                     " (SELECT id, time, name, text FROM history ORDER BY id DESC LIMIT ?1)"
                     " ORDER BY id",
};

/*
 * Names compare without case (NOCASE folds ASCII, all a name may hold).
 * Sessions and identities go with their user (ON DELETE CASCADE); history
 * keeps the name as text, so a removed user's messages stay readable.
 */
static const char schema_sql[] =
    "CREATE TABLE users ("
    " name TEXT PRIMARY KEY COLLATE NOCASE,"
    " hash TEXT NOT NULL,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE identities ("
    " address TEXT PRIMARY KEY,"
    " name TEXT NOT NULL COLLATE NOCASE REFERENCES users (name) ON DELETE CASCADE);"
    "CREATE INDEX identities_name ON identities (name);"
    "CREATE TABLE sessions ("
    " token_hash TEXT PRIMARY KEY,"
    " name TEXT NOT NULL COLLATE NOCASE REFERENCES users (name) ON DELETE CASCADE,"
    " created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL,"
    " last_used INTEGER NOT NULL);"
    "CREATE INDEX sessions_name ON sessions (name);"
    "CREATE TABLE history ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " time INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " text TEXT NOT NULL);"
    "PRAGMA user_version = 1;";

struct sqlite_state {
        sqlite3 *db;
        struct sqlite_checkpoint *checkpoint; /* WAL checkpoints, on a thread of their own */
        sqlite3_stmt *statements[STATEMENT_COUNT];
        size_t history_max;
        char error[256]; /* our own words when the error is not SQLite's */
};

static int errno_from_sqlite(int rc)
{
        switch (rc) {
        case SQLITE_CONSTRAINT_FOREIGNKEY:
        case SQLITE_CONSTRAINT_NOTNULL:
                return -ENOENT; /* a row that names a user who does not exist */
        default:
                break;
        }
        switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_TOOBIG:
                return -EMSGSIZE;
        default:
                return -EIO;
        }
}

static void note(struct sqlite_state *state, const char *what)
{
        snprintf(state->error, sizeof(state->error), "%s", what);
}

/* Record SQLite's words for store_last_error() and map its code. */
static int sqlite_failed(struct sqlite_state *state, int rc)
{
        snprintf(state->error, sizeof(state->error), "%s", sqlite3_errmsg(state->db));
        return errno_from_sqlite(rc);
}

static sqlite3_stmt *statement(struct sqlite_state *state, enum statement which)
{
        return state->statements[which];
}

static void finish(sqlite3_stmt *stmt)
{
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
}

/* Step a statement that returns no rows and reset it. Returns changes() or -errno. */
static int run(struct sqlite_state *state, sqlite3_stmt *stmt)
{
        int rc = sqlite3_step(stmt);
        int r = rc == SQLITE_DONE ? sqlite3_changes(state->db) : sqlite_failed(state, rc);

        finish(stmt);
        return r;
}

static int begin(struct sqlite_state *state)
{
        int r = run(state, statement(state, BEGIN));

        return r < 0 ? r : 0;
}

static int commit(struct sqlite_state *state)
{
        int r = run(state, statement(state, COMMIT));

        if (r < 0)
                run(state, statement(state, ROLLBACK));
        return r < 0 ? r : 0;
}

static void rollback(struct sqlite_state *state)
{
        run(state, statement(state, ROLLBACK));
}

static bool name_ok(const char *name)
{
        return name && chat_name_check(name, strlen(name)) == 0;
}

static bool token_hash_ok(const char *token_hash)
{
        return token_hash && strlen(token_hash) == AUTH_TOKEN_HASH_TEXT_LENGTH;
}

/* Copy a text column into a buffer of size bytes; a longer value means a tampered file. */
static int copy_column(sqlite3_stmt *stmt, int column, char *out, size_t size)
{
        const unsigned char *text = sqlite3_column_text(stmt, column);
        size_t length = (size_t)sqlite3_column_bytes(stmt, column);

        if (!text || length >= size)
                return -EBADMSG;
        memcpy(out, text, length);
        out[length] = '\0';
        return 0;
}

static uint64_t column_time(sqlite3_stmt *stmt, int column)
{
        sqlite3_int64 value = sqlite3_column_int64(stmt, column);

        return value < 0 ? 0 : (uint64_t)value;
}

/* Times beyond INT64_MAX ms are 292 million years away; clamp rather than wrap. */
static sqlite3_int64 time_value(uint64_t ms)
{
        return ms > INT64_MAX ? INT64_MAX : (sqlite3_int64)ms;
}

static void sqlite_free(void *opaque)
{
        struct sqlite_state *state = opaque;

        if (!state)
                return;
        sqlite_checkpoint_stop(state->checkpoint);
        for (int i = 0; i < STATEMENT_COUNT; i++)
                sqlite3_finalize(state->statements[i]);
        sqlite3_close(state->db);
        free(state);
}

static const char *sqlite_last_error(void *opaque)
{
        struct sqlite_state *state = opaque;

        return state->error;
}

static int sqlite_user_get(void *opaque, const char *name, struct store_user *user)
{
        struct sqlite_state *state = opaque;
        sqlite3_stmt *stmt = statement(state, USER_GET);
        int rc, r;

        if (!name_ok(name))
                return -ENOENT;
        sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
                r = copy_column(stmt, 0, user->name, sizeof(user->name));
                if (r == 0)
                        r = copy_column(stmt, 1, user->hash, sizeof(user->hash));
                user->created_ms = column_time(stmt, 2);
                if (r < 0)
                        note(state, "a stored user does not fit its limits");
        } else {
                r = rc == SQLITE_DONE ? -ENOENT : sqlite_failed(state, rc);
        }
        finish(stmt);
        return r;
}

static int sqlite_user_create(void *opaque, const char *name, const char *hash, uint64_t now_ms)
{
        struct sqlite_state *state = opaque;
        sqlite3_stmt *stmt = statement(state, USER_CREATE);
        int r;

        if (!name_ok(name) || !hash || strlen(hash) >= AUTH_HASH_SIZE)
                return -EINVAL;
        sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 3, time_value(now_ms));
        r = run(state, stmt);
        return r < 0 ? r : 0;
}

static int sqlite_user_set_hash(void *opaque, const char *name, const char *hash)
{
        struct sqlite_state *state = opaque;
        sqlite3_stmt *stmt = statement(state, USER_SET_HASH);
        int r;

        if (!hash || strlen(hash) >= AUTH_HASH_SIZE)
                return -EINVAL;
        if (!name_ok(name))
                return -ENOENT;
        sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, hash, -1, SQLITE_STATIC);
        r = run(state, stmt);
        if (r < 0)
                return r;
        return r == 0 ? -ENOENT : 0;
}

static int sqlite_user_remove(void *opaque, const char *name)
{
        struct sqlite_state *state = opaque;
        sqlite3_stmt *stmt = statement(state, USER_REMOVE);
        int r;

        if (!name_ok(name))
                return -ENOENT;
        sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
        /* The foreign keys take the user's sessions and identities in the same statement. */
        r = run(state, stmt);
        if (r < 0)
                return r;
        return r == 0 ? -ENOENT : 0;
}

static int sqlite_user_list(void *opaque, store_user_fn each, void *context)
{
        struct sqlite_state *state = opaque;
        sqlite3_stmt *stmt = statement(state, USER_LIST);
        struct store_user user;
        int count = 0;
        int rc, r = 0;

        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                r = copy_column(stmt, 0, user.name, sizeof(user.name));
                if (r < 0) {
                        note(state, "a stored user name does not fit its limit");
                        break;
                }
                user.hash[0] = '\0';
                user.created_ms = column_time(stmt, 1);
                r = each(context, &user);
                if (r < 0)
                        break;
                count++;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = sqlite_failed(state, rc);
        finish(stmt);
        return r < 0 ? r : count;
}

static int sqlite_identity_get(void *opaque, const char *address, char name[CHAT_NAME_MAX + 1])
{
        struct sqlite_state *state = opaque;
        sqlite3_stmt *stmt = statement(state, IDENTITY_GET);
        int rc, r;

        if (!address || strlen(address) > STORE_ADDRESS_MAX)
                return -ENOENT;
        sqlite3_bind_text(stmt, 1, address, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW)
                r = copy_column(stmt, 0, name, CHAT_NAME_MAX + 1);
        else
                r = rc == SQLITE_DONE ? -ENOENT : sqlite_failed(state, rc);
        finish(stmt);
        return r;
}

static int sqlite_identity_set(void *opaque, const char *address, const char *name)
{
        struct sqlite_state *state = opaque;
        sqlite3_stmt *stmt = statement(state, IDENTITY_SET);
        int r;

        if (!address || address[0] == '\0' || strlen(address) > STORE_ADDRESS_MAX)
                return -EINVAL;
        if (!name_ok(name))
                return -ENOENT;
        sqlite3_bind_text(stmt, 1, address, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
        r = run(state, stmt);
        return r < 0 ? r : 0;
}

static int sqlite_identity_forget_all(void *opaque)
{
        struct sqlite_state *state = opaque;

        return run(state, statement(state, IDENTITY_FORGET_ALL));
}

static int sqlite_session_create(void *opaque, const char *token_hash, const char *name,
                                 uint64_t created_ms, uint64_t expires_ms)
{
        struct sqlite_state *state = opaque;
        sqlite3_stmt *stmt = statement(state, SESSION_CREATE);
        int r;

        if (!token_hash_ok(token_hash))
                return -EINVAL;
        if (!name_ok(name))
                return -ENOENT;
        sqlite3_bind_text(stmt, 1, token_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 3, time_value(created_ms));
        sqlite3_bind_int64(stmt, 4, time_value(expires_ms));
        /* The INSERT ... SELECT stores the user's own spelling, and nothing for no user. */
        r = run(state, stmt);
        if (r < 0)
                return r;
        return r == 0 ? -ENOENT : 0;
}

static int sqlite_session_lookup(void *opaque, const char *token_hash, uint64_t now_ms,
                                 uint64_t idle_ms, struct store_session *session)
{
        struct sqlite_state *state = opaque;
        sqlite3_stmt *stmt = statement(state, SESSION_LOOKUP);
        int rc, r;

        if (!token_hash_ok(token_hash))
                return -ENOENT;
        sqlite3_bind_text(stmt, 1, token_hash, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc != SQLITE_ROW) {
                r = rc == SQLITE_DONE ? -ENOENT : sqlite_failed(state, rc);
                goto out;
        }
        /*
         * The index found the row by the hash of a 256-bit random token, so
         * its timing tells nothing useful; the final word is still a
         * constant-time comparison, as the design asks.
         */
        if (sqlite3_column_bytes(stmt, 0) != AUTH_TOKEN_HASH_TEXT_LENGTH ||
            sodium_memcmp(sqlite3_column_text(stmt, 0), token_hash, AUTH_TOKEN_HASH_TEXT_LENGTH) !=
                0) {
                r = -ENOENT;
                goto out;
        }
        r = copy_column(stmt, 1, session->name, sizeof(session->name));
        if (r < 0) {
                note(state, "a stored session name does not fit its limit");
                goto out;
        }
        session->created_ms = column_time(stmt, 2);
        session->expires_ms = column_time(stmt, 3);
        session->last_used_ms = column_time(stmt, 4);
        session->expired =
            now_ms >= session->expires_ms || (idle_ms > 0 && now_ms > session->last_used_ms &&
                                              now_ms - session->last_used_ms >= idle_ms);
out:
        finish(stmt);
        return r;
}

static int sqlite_session_touch(void *opaque, const char *token_hash, uint64_t now_ms)
{
        struct sqlite_state *state = opaque;
        sqlite3_stmt *stmt = statement(state, SESSION_TOUCH);
        int r;

        if (!token_hash_ok(token_hash))
                return -ENOENT;
        sqlite3_bind_text(stmt, 1, token_hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 2, time_value(now_ms));
        r = run(state, stmt);
        if (r < 0)
                return r;
        return r == 0 ? -ENOENT : 0;
}

static int sqlite_session_revoke(void *opaque, const char *token_hash)
{
        struct sqlite_state *state = opaque;
        sqlite3_stmt *stmt = statement(state, SESSION_REVOKE);
        int r;

        if (!token_hash_ok(token_hash))
                return -ENOENT;
        sqlite3_bind_text(stmt, 1, token_hash, -1, SQLITE_STATIC);
        r = run(state, stmt);
        if (r < 0)
                return r;
        return r == 0 ? -ENOENT : 0;
}

static int sqlite_session_revoke_user(void *opaque, const char *name)
{
        struct sqlite_state *state = opaque;
        sqlite3_stmt *stmt = statement(state, SESSION_REVOKE_USER);

        if (!name_ok(name))
                return 0;
        sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
        return run(state, stmt);
}

static int sqlite_session_purge_expired(void *opaque, uint64_t now_ms, uint64_t idle_ms)
{
        struct sqlite_state *state = opaque;
        sqlite3_stmt *stmt = statement(state, SESSION_PURGE_EXPIRED);

        sqlite3_bind_int64(stmt, 1, time_value(now_ms));
        sqlite3_bind_int64(stmt, 2, time_value(idle_ms));
        return run(state, stmt);
}

static int sqlite_history_append(void *opaque, uint64_t time_ms, const char *name, const char *text,
                                 size_t text_length, uint64_t *id)
{
        struct sqlite_state *state = opaque;
        sqlite3_stmt *stmt = statement(state, HISTORY_APPEND);
        sqlite3_int64 new_id;
        int r;

        if (!name_ok(name) || text_length > CHAT_LINE_MAX)
                return -EINVAL;
        r = begin(state);
        if (r < 0)
                return r;
        sqlite3_bind_int64(stmt, 1, time_value(time_ms));
        sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, text, (int)text_length, SQLITE_STATIC);
        r = run(state, stmt);
        if (r < 0)
                goto fail;
        new_id = sqlite3_last_insert_rowid(state->db);
        if ((size_t)new_id > state->history_max) {
                stmt = statement(state, HISTORY_TRIM);
                sqlite3_bind_int64(stmt, 1, new_id - (sqlite3_int64)state->history_max);
                r = run(state, stmt);
                if (r < 0)
                        goto fail;
        }
        r = commit(state);
        if (r < 0)
                return r;
        if (id)
                *id = (uint64_t)new_id;
        return 0;
fail:
        rollback(state);
        return r;
}

static int sqlite_history_last(void *opaque, size_t count, store_message_fn each, void *context)
{
        struct sqlite_state *state = opaque;
        sqlite3_stmt *stmt = statement(state, HISTORY_LAST);
        struct store_message message;
        int delivered = 0;
        int rc, r = 0;

        if (count > state->history_max)
                count = state->history_max;
        sqlite3_bind_int64(stmt, 1, (sqlite3_int64)count);
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                message.id = column_time(stmt, 0);
                message.time_ms = column_time(stmt, 1);
                message.name = (const char *)sqlite3_column_text(stmt, 2);
                message.text = (const char *)sqlite3_column_text(stmt, 3);
                message.text_length = (size_t)sqlite3_column_bytes(stmt, 3);
                if (!message.name || !message.text || message.text_length > CHAT_LINE_MAX) {
                        note(state, "a stored message does not fit its limits");
                        r = -EBADMSG;
                        break;
                }
                r = each(context, &message);
                if (r < 0)
                        break;
                delivered++;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = sqlite_failed(state, rc);
        finish(stmt);
        return r < 0 ? r : delivered;
}

static const struct store_ops sqlite_ops = {
    .kind = "sqlite",
    .free = sqlite_free,
    .last_error = sqlite_last_error,
    .user_get = sqlite_user_get,
    .user_create = sqlite_user_create,
    .user_set_hash = sqlite_user_set_hash,
    .user_remove = sqlite_user_remove,
    .user_list = sqlite_user_list,
    .identity_get = sqlite_identity_get,
    .identity_set = sqlite_identity_set,
    .identity_forget_all = sqlite_identity_forget_all,
    .session_create = sqlite_session_create,
    .session_lookup = sqlite_session_lookup,
    .session_touch = sqlite_session_touch,
    .session_revoke = sqlite_session_revoke,
    .session_revoke_user = sqlite_session_revoke_user,
    .session_purge_expired = sqlite_session_purge_expired,
    .history_append = sqlite_history_append,
    .history_last = sqlite_history_last,
};

/*
 * Create the file ourselves, 0600, before SQLite opens it: it holds password
 * hashes. SQLite gives its -wal and -shm files the database file's mode.
 * An existing file readable by others is narrowed for the same reason.
 */
static int create_private_file(const char *path)
{
        struct stat st;
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        int r = 0;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                r = -errno;
        else if (!S_ISREG(st.st_mode))
                r = -EINVAL;
        else if ((st.st_mode & 077) && fchmod(fd, st.st_mode & 0700) < 0)
                r = -errno;
        close(fd);
        return r;
}

static int exec(struct sqlite_state *state, const char *sql)
{
        int rc = sqlite3_exec(state->db, sql, NULL, NULL, NULL);

        return rc == SQLITE_OK ? 0 : sqlite_failed(state, rc);
}

/* Read one integer from a PRAGMA or SELECT. */
static int query_int(struct sqlite_state *state, const char *sql, long long *value)
{
        sqlite3_stmt *stmt;
        int rc = sqlite3_prepare_v2(state->db, sql, -1, &stmt, NULL);
        int r = 0;

        if (rc != SQLITE_OK)
                return sqlite_failed(state, rc);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW)
                *value = sqlite3_column_int64(stmt, 0);
        else
                r = rc == SQLITE_DONE ? -EIO : sqlite_failed(state, rc);
        sqlite3_finalize(stmt);
        return r;
}

static int configure(struct sqlite_state *state, int busy_timeout_ms)
{
        const unsigned char *mode;
        sqlite3_stmt *stmt;
        int rc, r;

        sqlite3_extended_result_codes(state->db, 1);
        sqlite3_busy_timeout(state->db, busy_timeout_ms);
        /*
         * WAL: readers never wait for the writer, and a commit is one append.
         * synchronous=NORMAL: in WAL mode a commit is not fsynced, only each
         * checkpoint is, so a crash of echod (or a kill -9) loses nothing,
         * and only a power loss or a kernel crash can lose the last few
         * commits; the database stays consistent either way. That is the
         * price of not waiting for the disk on every chat line.
         */
        rc = sqlite3_prepare_v2(state->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
        if (rc != SQLITE_OK)
                return sqlite_failed(state, rc);
        rc = sqlite3_step(stmt);
        mode = rc == SQLITE_ROW ? sqlite3_column_text(stmt, 0) : NULL;
        r = mode && strcmp((const char *)mode, "wal") == 0 ? 0 : -EIO;
        if (r < 0)
                note(state, rc == SQLITE_ROW ? "the database refused WAL journal mode"
                                             : sqlite3_errmsg(state->db));
        sqlite3_finalize(stmt);
        if (r < 0)
                return rc == SQLITE_ROW ? r : errno_from_sqlite(rc);
        r = exec(state, "PRAGMA synchronous = NORMAL");
        if (r == 0)
                r = exec(state, "PRAGMA foreign_keys = ON");
        return r;
}

static int migrate(struct sqlite_state *state)
{
        long long version = 0;
        int r = query_int(state, "PRAGMA user_version", &version);

        if (r < 0)
                return r;
        if (version == STORE_SQLITE_SCHEMA_VERSION)
                return 0;
        if (version > STORE_SQLITE_SCHEMA_VERSION) {
                note(state, "the database was written by a newer echod");
                return -ENOTSUP;
        }
        /* Version 0 is a new, empty file; later versions will upgrade step by step here. */
        r = exec(state, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = exec(state, schema_sql);
        if (r < 0) {
                exec(state, "ROLLBACK");
                return r;
        }
        return exec(state, "COMMIT");
}

static int prepare_all(struct sqlite_state *state)
{
        for (int i = 0; i < STATEMENT_COUNT; i++) {
                int rc = sqlite3_prepare_v3(state->db, statement_sql[i], -1,
                                            SQLITE_PREPARE_PERSISTENT, &state->statements[i], NULL);

                if (rc != SQLITE_OK)
                        return sqlite_failed(state, rc);
        }
        return 0;
}

int store_sqlite_open(struct store *store, const struct store_sqlite_options *options)
{
        char path[PATH_MAX];
        struct sqlite_state *state;
        int n, rc, r;

        n = snprintf(path, sizeof(path), "%s/%s", options->directory, STORE_SQLITE_FILE);
        if (n < 0 || (size_t)n >= sizeof(path))
                return -ENAMETOOLONG;
        r = create_private_file(path);
        if (r < 0)
                return r;
        state = calloc(1, sizeof(*state));
        if (!state)
                return -ENOMEM;
        state->history_max =
            options->history_max ? options->history_max : STORE_SQLITE_HISTORY_DEFAULT;
        if (state->history_max > INT64_MAX / 2)
                state->history_max = INT64_MAX / 2;
        /* One thread uses the store, so SQLite's own locking is not needed. */
        rc = sqlite3_open_v2(path, &state->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
                r = errno_from_sqlite(rc);
                goto fail;
        }
        r = configure(state, options->busy_timeout_ms > 0 ? options->busy_timeout_ms
                                                          : STORE_SQLITE_BUSY_TIMEOUT_DEFAULT);
        if (r == 0)
                r = migrate(state);
        if (r == 0)
                r = prepare_all(state);
        if (r == 0)
                r = sqlite_checkpoint_start(&state->checkpoint, state->db, path);
        if (r < 0)
                goto fail;
        store->ops = &sqlite_ops;
        store->async = NULL;
        store->state = state;
        return 0;
fail:
        sqlite_free(state);
        return r;
}

struct sqlite_checkpoint *store_sqlite_checkpoint(struct store *store)
{
        struct sqlite_state *state = store->state;

        return store->ops == &sqlite_ops ? state->checkpoint : NULL;
}
