#ifndef ECHOD_FILE_H
#define ECHOD_FILE_H

#include <sys/types.h>

/*
 * Opening files named by an admin (config files, log files) without ever
 * blocking: a FIFO, a terminal or a device in their place would otherwise
 * stall the caller (and a daemon's event loop with it) until a peer appears.
 */

/*
 * open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, mode), then require a
 * regular file (or /dev/null, which never blocks). Returns the fd, or -errno:
 * -EINVAL if path is something else (a FIFO, a directory, a device, a
 * socket), -ENXIO (said the same way by file_strerror) for a FIFO opened for
 * writing with no reader.
 */
int file_open_regular(const char *path, int flags, mode_t mode);

/* A text for an error of file_open_regular: "not a regular file" for -EINVAL, else strerror. */
const char *file_strerror(int error);

#endif
