#ifndef ECHOD_CHAT_STORE_REDIS_H
#define ECHOD_CHAT_STORE_REDIS_H

#include <ev.h>

#include "bus.h"
#include "store.h"

#define STORE_REDIS_PRESENCE_TTL_DEFAULT 15.0 /* seconds */
#define STORE_REDIS_HISTORY_DEFAULT      10000

struct store_redis_options {
        const char *address;  /* "redis://HOST:PORT[/DB]" or "unix:PATH" (DB 0), as in the config */
        unsigned history_max; /* stream length cap (XADD MAXLEN ~) */
        double presence_ttl;  /* seconds; 0: default 15 */
        const char *user;     /* chat-redis-user, or NULL */
        /* chat-redis-password-file, or NULL: no AUTH (redis_auth.h) */
        const char *password_file;
};

/*
 * Fill *store and *bus with one shared Redis backend on loop. Never fails
 * because Redis is down: it then starts unavailable and keeps reconnecting.
 * Returns 0, -EINVAL (bad address), -ENOMEM. Call bus_fini() before
 * store_fini(), which frees both and ends every pending call with
 * -ECANCELED (from inside one of the backend's own done, deliver or who
 * functions too: the calls pending on that connection then end as soon as
 * that function returns). A host name is looked up off the loop before each
 * (re)connect (redis_resolver.h); while it is, the store is unavailable.
 */
int store_redis_open(struct store *store, struct bus *bus, struct ev_loop *loop,
                     const struct store_redis_options *options);

#endif
