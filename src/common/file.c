#include "file.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* /dev/null is character device 1:3 on Linux. */
static bool is_null_device(const struct stat *st)
{
        return S_ISCHR(st->st_mode) && major(st->st_rdev) == 1 && minor(st->st_rdev) == 3;
}

int file_open_regular(const char *path, int flags, mode_t mode)
{
        struct stat st;
        int fd, r;

        /* O_NONBLOCK makes open itself return at once on a FIFO (it waits for a peer). */
        fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, mode);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        if (!S_ISREG(st.st_mode) && !is_null_device(&st)) {
                close(fd);
                return -EINVAL;
        }
        return fd;
}

const char *file_strerror(int error)
{
        if (error < 0)
                error = -error;
        /* ENXIO: open(O_WRONLY | O_NONBLOCK) of a FIFO nobody reads. */
        if (error == EINVAL || error == ENXIO)
                return "not a regular file";
        return strerror(error);
}
