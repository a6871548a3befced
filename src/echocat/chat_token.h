#ifndef ECHOD_CHAT_TOKEN_H
#define ECHOD_CHAT_TOKEN_H

#include <limits.h>
#include <stddef.h>

#include "chat_client.h"

/*
 * Where echocat --chat keeps session tokens: one file per server,
 * $XDG_CONFIG_HOME/echocat/HOST-PORT.token (else ~/.config/echocat/), the
 * directory mode 0700 and the file 0600, written whole or not at all.
 */

struct chat_token_store {
        char directory[PATH_MAX];
        char path[PATH_MAX];
};

/*
 * Work out the file for a server from the environment ($XDG_CONFIG_HOME if
 * it is an absolute path, else $HOME/.config). Touches no file. Returns 0,
 * -ENOENT when neither variable gives a directory, or -ENAMETOOLONG.
 */
int chat_token_store_init(struct chat_token_store *store, const char *host, const char *port);

/*
 * Read the stored token into token (size at least CHAT_TOKEN_MAX + 1).
 * Returns its length, -ENOENT when there is none, -EINVAL when the file
 * holds no valid token, or another -errno.
 */
int chat_token_load(const struct chat_token_store *store, char *token, size_t size);

/* Store a token (creating the directories, 0700), replacing any other. 0 or -errno. */
int chat_token_save(const struct chat_token_store *store, const char *token, size_t length);

/* Forget the stored token. 0, also when there was none, or -errno. */
int chat_token_remove(const struct chat_token_store *store);

#endif
