#include "chat_token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "session.h"

int chat_token_store_init(struct chat_token_store *store, const char *host, const char *port)
{
        const char *config = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
        char name[256];
        int n;

        /* The XDG base directory spec: a relative $XDG_CONFIG_HOME is ignored. */
        if (config && config[0] == '/')
                n = snprintf(store->directory, sizeof(store->directory), "%s/echocat", config);
        else if (home && home[0] == '/')
                n = snprintf(store->directory, sizeof(store->directory), "%s/.config/echocat",
                             home);
        else
                return -ENOENT;
        if (n < 0 || (size_t)n >= sizeof(store->directory))
                return -ENAMETOOLONG;
        if (chat_token_file_name(host, port, name, sizeof(name)) < 0)
                return -ENAMETOOLONG;
        n = snprintf(store->path, sizeof(store->path), "%s/%s", store->directory, name);
        if (n < 0 || (size_t)n >= sizeof(store->path))
                return -ENAMETOOLONG;
        return 0;
}

int chat_token_load(const struct chat_token_store *store, char *token, size_t size)
{
        char buffer[CHAT_TOKEN_MAX + 3];
        ssize_t n;
        size_t length;
        int fd;

        fd = open(store->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -errno;
        do
                n = read(fd, buffer, sizeof(buffer));
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                int error = -errno;

                close(fd);
                return error;
        }
        close(fd);
        length = (size_t)n;
        while (length > 0 && (buffer[length - 1] == '\n' || buffer[length - 1] == '\r'))
                length--;
        if (!chat_token_valid(buffer, length) || length + 1 > size)
                return -EINVAL;
        memcpy(token, buffer, length);
        token[length] = '\0';
        return (int)length;
}

/* mkdir -p with mode 0700 for what it creates; the last one is made 0700 if it is wider. */
static int make_directories(const char *directory)
{
        char path[PATH_MAX];
        struct stat st;

        snprintf(path, sizeof(path), "%s", directory);
        for (char *slash = strchr(path + 1, '/');; slash = strchr(slash + 1, '/')) {
                if (slash)
                        *slash = '\0';
                if (mkdir(path, 0700) < 0 && errno != EEXIST)
                        return -errno;
                if (!slash)
                        break;
                *slash = '/';
        }
        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        /* Tokens are secrets: nobody else may even list them. */
        if ((st.st_mode & 0077) != 0 && chmod(path, 0700) < 0)
                return -errno;
        return 0;
}

int chat_token_save(const struct chat_token_store *store, const char *token, size_t length)
{
        char temporary[PATH_MAX + 16], line[CHAT_TOKEN_MAX + 1];
        int fd, r;

        if (!chat_token_valid(token, length))
                return -EINVAL;
        r = make_directories(store->directory);
        if (r < 0)
                return r;
        if (snprintf(temporary, sizeof(temporary), "%s.XXXXXX", store->path) >=
            (int)sizeof(temporary))
                return -ENAMETOOLONG;
        /* mkostemp creates the file 0600; renamed into place, no reader sees half a token. */
        fd = mkostemp(temporary, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        memcpy(line, token, length);
        line[length] = '\n';
        r = session_write_all(fd, line, length + 1);
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(temporary, store->path) < 0)
                r = -errno;
        if (r < 0)
                unlink(temporary);
        return r;
}

int chat_token_remove(const struct chat_token_store *store)
{
        if (unlink(store->path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}
