#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

struct scratch {
        char dir[64];
        char path[96];
};

static int make_scratch(void **state)
{
        struct scratch *s = calloc(1, sizeof(*s));

        if (!s)
                return -1;
        snprintf(s->dir, sizeof(s->dir), "/tmp/echod-test-file-XXXXXX");
        if (!mkdtemp(s->dir))
                return -1;
        snprintf(s->path, sizeof(s->path), "%s/f", s->dir);
        *state = s;
        return 0;
}

static int remove_scratch(void **state)
{
        struct scratch *s = *state;

        unlink(s->path);
        rmdir(s->dir);
        free(s);
        return 0;
}

static void regular_file_opens_and_is_created(void **state)
{
        struct scratch *s = *state;
        int fd = file_open_regular(s->path, O_WRONLY | O_APPEND | O_CREAT, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "x", 1), 1);
        /* The descriptor is close-on-exec. */
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        close(fd);
        fd = file_open_regular(s->path, O_RDONLY, 0);
        assert_true(fd >= 0);
        close(fd);
}

static void dev_null_is_accepted(void **state)
{
        int fd = file_open_regular("/dev/null", O_RDONLY, 0);

        (void)state;
        assert_true(fd >= 0);
        close(fd);
}

static void fifo_is_refused_without_blocking(void **state)
{
        struct scratch *s = *state;

        assert_int_equal(mkfifo(s->path, 0600), 0);
        /* A blocking open would wait here for a writer, then for a reader. */
        assert_int_equal(file_open_regular(s->path, O_RDONLY, 0), -EINVAL);
        assert_int_equal(file_open_regular(s->path, O_WRONLY | O_APPEND, 0), -ENXIO);
        assert_string_equal(file_strerror(-EINVAL), "not a regular file");
        assert_string_equal(file_strerror(-ENXIO), "not a regular file");
}

static void directory_and_device_are_refused(void **state)
{
        struct scratch *s = *state;

        assert_int_equal(file_open_regular(s->dir, O_RDONLY, 0), -EINVAL);
        assert_int_equal(file_open_regular("/dev/zero", O_RDONLY, 0), -EINVAL);
}

static void other_errors_keep_their_text(void **state)
{
        (void)state;
        assert_int_equal(file_open_regular("/nonexistent/f", O_RDONLY, 0), -ENOENT);
        assert_string_equal(file_strerror(-ENOENT), strerror(ENOENT));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(regular_file_opens_and_is_created, make_scratch,
                                            remove_scratch),
            cmocka_unit_test(dev_null_is_accepted),
            cmocka_unit_test_setup_teardown(fifo_is_refused_without_blocking, make_scratch,
                                            remove_scratch),
            cmocka_unit_test_setup_teardown(directory_and_device_are_refused, make_scratch,
                                            remove_scratch),
            cmocka_unit_test(other_errors_keep_their_text),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
