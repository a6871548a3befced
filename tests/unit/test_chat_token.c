#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chat_token.h"

static char base[] = "/tmp/test_chat_token.XXXXXX";

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void the_file_is_under_xdg_config_home_else_home(void **state)
{
        struct chat_token_store store;

        (void)state;
        setenv("XDG_CONFIG_HOME", "/x/config", 1);
        assert_int_equal(chat_token_store_init(&store, "::1", "7070"), 0);
        assert_string_equal(store.path, "/x/config/echocat/__1-7070.token");
        /* A relative XDG_CONFIG_HOME is ignored, as the spec says. */
        setenv("XDG_CONFIG_HOME", "relative", 1);
        setenv("HOME", "/home/u", 1);
        assert_int_equal(chat_token_store_init(&store, "h", "1"), 0);
        assert_string_equal(store.path, "/home/u/.config/echocat/h-1.token");
        unsetenv("XDG_CONFIG_HOME");
        unsetenv("HOME");
        assert_int_equal(chat_token_store_init(&store, "h", "1"), -ENOENT);
}

static void a_saved_token_loads_back_with_private_modes(void **state)
{
        struct chat_token_store store;
        char config[sizeof(base) + 16], token[CHAT_TOKEN_MAX + 1];
        struct stat st;

        (void)state;
        /* Two levels that do not exist yet: both are made. */
        snprintf(config, sizeof(config), "%s/a/b", base);
        setenv("XDG_CONFIG_HOME", config, 1);
        assert_int_equal(chat_token_store_init(&store, "host", "7070"), 0);
        assert_int_equal(chat_token_load(&store, token, sizeof(token)), -ENOENT);
        assert_int_equal(chat_token_save(&store, "abc123", 6), 0);
        assert_int_equal(chat_token_load(&store, token, sizeof(token)), 6);
        assert_string_equal(token, "abc123");
        assert_int_equal(stat(store.path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(stat(store.directory, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
        /* A new token replaces the old one. */
        assert_int_equal(chat_token_save(&store, "def", 3), 0);
        assert_int_equal(chat_token_load(&store, token, sizeof(token)), 3);
        assert_int_equal(chat_token_remove(&store), 0);
        assert_int_equal(chat_token_remove(&store), 0);
        assert_int_equal(chat_token_load(&store, token, sizeof(token)), -ENOENT);
}

static void a_wide_directory_is_made_private(void **state)
{
        struct chat_token_store store;
        struct stat st;

        (void)state;
        setenv("XDG_CONFIG_HOME", base, 1);
        assert_int_equal(chat_token_store_init(&store, "wide", "1"), 0);
        mkdir(store.directory, 0755);
        chmod(store.directory, 0755);
        assert_int_equal(chat_token_save(&store, "t", 1), 0);
        assert_int_equal(stat(store.directory, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
        chat_token_remove(&store);
}

static void garbage_in_the_file_is_not_a_token(void **state)
{
        struct chat_token_store store;
        char token[CHAT_TOKEN_MAX + 1];

        (void)state;
        setenv("XDG_CONFIG_HOME", base, 1);
        assert_int_equal(chat_token_store_init(&store, "garbage", "1"), 0);
        assert_int_equal(chat_token_save(&store, "x", 1), 0);
        write_file(store.path, "two words\n");
        assert_int_equal(chat_token_load(&store, token, sizeof(token)), -EINVAL);
        write_file(store.path, "");
        assert_int_equal(chat_token_load(&store, token, sizeof(token)), -EINVAL);
        assert_int_equal(chat_token_save(&store, "bad token", 9), -EINVAL);
        chat_token_remove(&store);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(the_file_is_under_xdg_config_home_else_home),
            cmocka_unit_test(a_saved_token_loads_back_with_private_modes),
            cmocka_unit_test(a_wide_directory_is_made_private),
            cmocka_unit_test(garbage_in_the_file_is_not_a_token),
        };
        char command[sizeof(base) + 16];
        int failed;

        if (!mkdtemp(base))
                return 1;
        failed = cmocka_run_group_tests(tests, NULL, NULL);
        snprintf(command, sizeof(command), "rm -rf %s", base);
        if (system(command) != 0)
                failed = 1;
        return failed;
}
