#ifndef ECHOD_CHAT_REDIS_AUTH_H
#define ECHOD_CHAT_REDIS_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The Redis backend's credentials (chat-redis-user, chat-redis-password-file):
 * the password is read from its file at each connect, so it is never on a
 * command line, in the config or in the journal, and a file changed under a
 * running echod is used at the next reconnect. A relative path names a
 * credential in $CREDENTIALS_DIRECTORY (systemd's LoadCredential=). Called
 * by: redis_backend.c; calls: libc only.
 */

#define REDIS_AUTH_USER_MAX     128
#define REDIS_AUTH_PASSWORD_MAX 512
#define REDIS_AUTH_PATH_MAX     4096

struct redis_auth {
        char user[REDIS_AUTH_USER_MAX + 1];      /* empty: AUTH with the password only */
        char password_file[REDIS_AUTH_PATH_MAX]; /* empty: no AUTH */
};

/* True when a password file is set, so each connection starts with AUTH. */
bool redis_auth_enabled(const struct redis_auth *auth);

/*
 * Read the password: the file's first line, without its line end. Refused,
 * with why in error: a relative name without $CREDENTIALS_DIRECTORY, a file
 * that cannot be read, one that others may read, an empty or overlong
 * password. Returns 0 or -errno; wipe the password with explicit_bzero() after use.
 */
int redis_auth_read(const struct redis_auth *auth, char password[REDIS_AUTH_PASSWORD_MAX + 1],
                    char *error, size_t size);

/* The AUTH command for password: fills argv (3 slots), returns argc (2 or 3). */
int redis_auth_argv(const struct redis_auth *auth, const char *password, const char *argv[3]);

#endif
