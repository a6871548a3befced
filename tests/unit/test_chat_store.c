#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * What only the SQLite store does: its file, schema, purge, retention,
 * reopening and WAL checkpoints. The store's contract, shared with Redis,
 * is test_chat_store_contract.c (CTest unit.chat_store_contract.sqlite).
 */

#include "sqlite_checkpoint.h"
#include "store_sqlite.h"

#define HASH_A  "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
#define TOKEN_1 "1111111111111111111111111111111111111111111111111111111111111111"
#define TOKEN_2 "2222222222222222222222222222222222222222222222222222222222222222"
#define TOKEN_3 "3333333333333333333333333333333333333333333333333333333333333333"

#define HOUR_MS (3600ull * 1000)

struct fixture {
        char directory[64];
        char path[PATH_MAX];
        struct store store;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        strcpy(f->directory, "/tmp/test_chat_store.XXXXXX");
        if (!mkdtemp(f->directory))
                return -1;
        snprintf(f->path, sizeof(f->path), "%s/chat.db", f->directory);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        const char *suffixes[] = {"", "-wal", "-shm"};
        char path[PATH_MAX + 8];

        store_fini(&f->store);
        for (size_t i = 0; i < 3; i++) {
                snprintf(path, sizeof(path), "%s%s", f->path, suffixes[i]);
                unlink(path);
        }
        rmdir(f->directory);
        free(f);
        return 0;
}

static void open_store(struct fixture *f, size_t history_max)
{
        struct store_sqlite_options options = {f->directory, history_max, 0};

        assert_int_equal(store_sqlite_open(&f->store, &options), 0);
}

/* Run SQL on the file through a second connection, as another tool would. */
static long long side_query(struct fixture *f, const char *sql)
{
        sqlite3 *db;
        sqlite3_stmt *stmt;
        long long value = -1;

        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
        if (sqlite3_step(stmt) == SQLITE_ROW)
                value = sqlite3_column_int64(stmt, 0);
        sqlite3_finalize(stmt);
        sqlite3_close(db);
        return value;
}

static void open_creates_a_private_wal_database_with_schema_version(void **state)
{
        struct fixture *f = *state;
        char wal[PATH_MAX + 8];
        struct stat st;

        open_store(f, 0);
        assert_string_equal(f->store.ops->kind, "sqlite");
        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(store_user_create(&f->store, "ann", HASH_A, 1), 0);
        snprintf(wal, sizeof(wal), "%s-wal", f->path);
        assert_int_equal(stat(wal, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(side_query(f, "PRAGMA user_version"), STORE_SQLITE_SCHEMA_VERSION);
        /* WAL is a property of the file, so a second connection sees it too. */
        sqlite3 *db;
        sqlite3_stmt *stmt;
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
        sqlite3_finalize(stmt);
        sqlite3_close(db);
}

static void database_descriptors_are_close_on_exec(void **state)
{
        struct fixture *f = *state;
        DIR *fds;
        struct dirent *entry;
        int seen = 0;

        open_store(f, 0);
        assert_int_equal(store_user_create(&f->store, "ann", HASH_A, 1), 0);
        fds = opendir("/proc/self/fd");
        assert_non_null(fds);
        while ((entry = readdir(fds))) {
                char link[64], target[PATH_MAX];
                ssize_t n;
                int fd = atoi(entry->d_name);

                if (entry->d_name[0] == '.' || fd == dirfd(fds))
                        continue;
                snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
                n = readlink(link, target, sizeof(target) - 1);
                if (n < 0)
                        continue;
                target[n] = '\0';
                if (strncmp(target, f->directory, strlen(f->directory)) != 0)
                        continue;
                seen++;
                assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        }
        closedir(fds);
        assert_true(seen >= 1);
}

static void existing_file_readable_by_others_is_narrowed(void **state)
{
        struct fixture *f = *state;
        struct stat st;
        int fd = open(f->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(fchmod(fd, 0644), 0);
        close(fd);
        open_store(f, 0);
        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
}

static void newer_schema_is_refused(void **state)
{
        struct fixture *f = *state;
        struct store_sqlite_options options = {f->directory, 0, 0};

        open_store(f, 0);
        store_fini(&f->store);
        side_query(f, "PRAGMA user_version = 99");
        assert_int_equal(store_sqlite_open(&f->store, &options), -ENOTSUP);
}

static void file_that_is_not_a_database_is_refused(void **state)
{
        struct fixture *f = *state;
        struct store_sqlite_options options = {f->directory, 0, 0};
        char junk[4096];
        int fd = open(f->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

        memset(junk, 'j', sizeof(junk));
        assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
        close(fd);
        assert_int_equal(store_sqlite_open(&f->store, &options), -EBADMSG);
}

static void missing_directory_is_enoent(void **state)
{
        struct fixture *f = *state;
        struct store_sqlite_options options = {"/nonexistent/echod-test", 0, 0};

        (void)f;
        assert_int_equal(store_sqlite_open(&f->store, &options), -ENOENT);
}

static void purge_removes_only_expired_sessions(void **state)
{
        struct fixture *f = *state;
        struct store_session session;

        open_store(f, 0);
        assert_int_equal(store_user_create(&f->store, "ann", HASH_A, 1), 0);
        assert_int_equal(store_session_create(&f->store, TOKEN_1, "ann", 0, 100), 0);
        assert_int_equal(store_session_create(&f->store, TOKEN_2, "ann", 0, HOUR_MS), 0);
        assert_int_equal(store_session_create(&f->store, TOKEN_3, "ann", 0, HOUR_MS), 0);
        assert_int_equal(store_session_touch(&f->store, TOKEN_3, 900), 0);
        /* At 1000 with 500 ms idle: 1 is past its expiry, 2 idle since 0, 3 used at 900. */
        assert_int_equal(store_session_purge_expired(&f->store, 1000, 500), 2);
        assert_int_equal(store_session_lookup(&f->store, TOKEN_3, 1000, 500, &session), 0);
        assert_int_equal(store_session_lookup(&f->store, TOKEN_2, 1000, 500, &session), -ENOENT);
}

struct history {
        uint64_t ids[16];
        char texts[16][CHAT_LINE_MAX + 1];
        int count;
};

static int collect_message(void *context, const struct store_message *message)
{
        struct history *history = context;

        assert_true(history->count < 16);
        history->ids[history->count] = message->id;
        memcpy(history->texts[history->count], message->text, message->text_length);
        history->texts[history->count][message->text_length] = '\0';
        history->count++;
        return 0;
}

static void history_retention_keeps_at_most_the_cap(void **state)
{
        struct fixture *f = *state;
        struct history history = {0};
        char text[8];

        open_store(f, 3);
        for (int i = 0; i < 10; i++) {
                snprintf(text, sizeof(text), "m%d", i);
                assert_int_equal(
                    store_history_append(&f->store, i, "ann", text, strlen(text), NULL), 0);
        }
        assert_int_equal(side_query(f, "SELECT count(*) FROM history"), 3);
        assert_int_equal(store_history_last(&f->store, 100, collect_message, &history), 3);
        assert_string_equal(history.texts[0], "m7");
        assert_string_equal(history.texts[2], "m9");
}

static void everything_survives_close_and_reopen(void **state)
{
        struct fixture *f = *state;
        struct history history = {0};
        struct store_user user;
        struct store_session session;
        char name[CHAT_NAME_MAX + 1];
        uint64_t id;

        open_store(f, 0);
        assert_int_equal(store_user_create(&f->store, "ann", HASH_A, 7), 0);
        assert_int_equal(store_identity_set(&f->store, "127.0.0.3", "ann"), 0);
        assert_int_equal(store_session_create(&f->store, TOKEN_1, "ann", 0, HOUR_MS), 0);
        assert_int_equal(store_history_append(&f->store, 42, "ann", "persisted", 9, &id), 0);
        store_fini(&f->store);

        open_store(f, 0);
        assert_int_equal(store_user_get(&f->store, "ann", &user), 0);
        assert_string_equal(user.hash, HASH_A);
        assert_int_equal(store_identity_get(&f->store, "127.0.0.3", name), 0);
        assert_string_equal(name, "ann");
        assert_int_equal(store_session_lookup(&f->store, TOKEN_1, 1, 0, &session), 0);
        assert_int_equal(store_history_last(&f->store, 10, collect_message, &history), 1);
        assert_string_equal(history.texts[0], "persisted");
        assert_int_equal(history.ids[0], id);
        /* Ids go on growing after a reopen. */
        assert_int_equal(store_history_append(&f->store, 43, "ann", "next", 4, &id), 0);
        assert_true(id > history.ids[0]);
}

static void last_error_names_the_problem(void **state)
{
        struct fixture *f = *state;

        open_store(f, 0);
        assert_int_equal(store_user_create(&f->store, "ann", HASH_A, 1), 0);
        assert_int_equal(store_user_create(&f->store, "ann", HASH_A, 1), -EEXIST);
        assert_non_null(strstr(store_last_error(&f->store), "UNIQUE"));
}

static long long file_size(const char *path)
{
        struct stat st;

        assert_int_equal(stat(path, &st), 0);
        return (long long)st.st_size;
}

/*
 * The WAL is checkpointed by the store's own thread, not inside a commit on
 * the caller's (the loop's) thread; and writes that never pause still find
 * the WAL bounded.
 */
static void wal_is_checkpointed_off_the_caller_and_stays_bounded(void **state)
{
        struct fixture *f = *state;
        struct history history = {0};
        char text[CHAT_LINE_MAX], wal[PATH_MAX + 8];
        struct sqlite_checkpoint *checkpoint;
        long long page_size, bound;

        open_store(f, 100000);
        checkpoint = store_sqlite_checkpoint(&f->store);
        assert_non_null(checkpoint);
        memset(text, 'x', sizeof(text));
        page_size = side_query(f, "PRAGMA page_size");
        /* A WAL frame is a page and a 24-byte header; the file has a 32-byte header. */
        bound = (SQLITE_CHECKPOINT_PAGES_MAX + 16) * (page_size + 24) + 32;
        snprintf(wal, sizeof(wal), "%s-wal", f->path);
        /* Each message is at least one page of WAL: past the threshold, the thread is asked. */
        for (int i = 0; i < SQLITE_CHECKPOINT_PAGES + 10; i++)
                assert_int_equal(
                    store_history_append(&f->store, i, "ann", text, sizeof(text), NULL), 0);
        assert_int_equal(sqlite_checkpoint_wait(checkpoint, 1, 30000), 0);
        /* Writes without a pause: the WAL never grows past the cap (plus the last commit). */
        for (int i = 0; i < 3 * SQLITE_CHECKPOINT_PAGES_MAX; i++) {
                assert_int_equal(
                    store_history_append(&f->store, i, "ann", text, sizeof(text), NULL), 0);
                if (i % 500 == 0)
                        assert_true(file_size(wal) <= bound);
        }
        assert_true(file_size(wal) <= bound);
        assert_int_equal(store_history_last(&f->store, 2, collect_message, &history), 2);
        assert_int_equal(strlen(history.texts[1]), CHAT_LINE_MAX);
}

#define STORE_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
            STORE_TEST(open_creates_a_private_wal_database_with_schema_version),
            STORE_TEST(database_descriptors_are_close_on_exec),
            STORE_TEST(existing_file_readable_by_others_is_narrowed),
            STORE_TEST(newer_schema_is_refused),
            STORE_TEST(file_that_is_not_a_database_is_refused),
            STORE_TEST(missing_directory_is_enoent),
            STORE_TEST(purge_removes_only_expired_sessions),
            STORE_TEST(history_retention_keeps_at_most_the_cap),
            STORE_TEST(everything_survives_close_and_reopen),
            STORE_TEST(last_error_names_the_problem),
            STORE_TEST(wal_is_checkpointed_off_the_caller_and_stays_bounded),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
