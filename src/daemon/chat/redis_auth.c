#include "redis_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool redis_auth_enabled(const struct redis_auth *auth)
{
        return auth && auth->password_file[0];
}

/* Where the password file is: as given, or a credential's path under $CREDENTIALS_DIRECTORY. */
static int resolve(const struct redis_auth *auth, char *path, size_t size, char *error,
                   size_t error_size)
{
        const char *directory;
        int n;

        if (auth->password_file[0] == '/') {
                n = snprintf(path, size, "%s", auth->password_file);
        } else {
                directory = getenv("CREDENTIALS_DIRECTORY");
                if (!directory || !directory[0]) {
                        snprintf(error, error_size,
                                 "chat-redis-password-file '%s' is not an absolute path and"
                                 " $CREDENTIALS_DIRECTORY is not set (LoadCredential=)",
                                 auth->password_file);
                        return -EINVAL;
                }
                n = snprintf(path, size, "%s/%s", directory, auth->password_file);
        }
        if (n < 0 || (size_t)n >= size) {
                snprintf(error, error_size, "chat-redis-password-file: path too long");
                return -ENAMETOOLONG;
        }
        return 0;
}

int redis_auth_read(const struct redis_auth *auth, char password[REDIS_AUTH_PASSWORD_MAX + 1],
                    char *error, size_t size)
{
        char path[REDIS_AUTH_PATH_MAX + 64];
        char buf[REDIS_AUTH_PASSWORD_MAX + 2];
        struct stat st;
        ssize_t got;
        size_t length;
        int fd, r;

        password[0] = '\0';
        r = resolve(auth, path, sizeof(path), error, size);
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                r = -errno;
                snprintf(error, size, "redis password file %s: %s", path, strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                snprintf(error, size, "redis password file %s: not a regular file", path);
                return -EINVAL;
        }
        if (st.st_mode & S_IROTH) {
                close(fd);
                snprintf(error, size, "redis password file %s is readable by others: chmod o-r it",
                         path);
                return -EPERM;
        }
        got = read(fd, buf, sizeof(buf) - 1);
        r = got < 0 ? -errno : 0;
        close(fd);
        if (r < 0) {
                snprintf(error, size, "redis password file %s: %s", path, strerror(-r));
                return r;
        }
        buf[got] = '\0';
        length = strcspn(buf, "\r\n");
        if (length == (size_t)got && (size_t)got > REDIS_AUTH_PASSWORD_MAX) {
                explicit_bzero(buf, sizeof(buf));
                snprintf(error, size, "redis password file %s: password longer than %d bytes", path,
                         REDIS_AUTH_PASSWORD_MAX);
                return -EINVAL;
        }
        if (length == 0) {
                explicit_bzero(buf, sizeof(buf));
                snprintf(error, size, "redis password file %s: the first line is empty", path);
                return -EINVAL;
        }
        memcpy(password, buf, length);
        password[length] = '\0';
        explicit_bzero(buf, sizeof(buf));
        return 0;
}

int redis_auth_argv(const struct redis_auth *auth, const char *password, const char *argv[3])
{
        argv[0] = "AUTH";
        if (auth->user[0]) {
                argv[1] = auth->user;
                argv[2] = password;
                return 3;
        }
        argv[1] = password;
        return 2;
}
