#include "redis_resolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "redis_address.h"

/*
 * One lookup, shared by its thread and the resolver: whichever lets go of
 * it last frees it. owner is NULL once the resolver has abandoned it.
 */
struct lookup {
        pthread_mutex_t lock;
        int references;
        struct redis_resolver *owner;
        bool finished;
        int status; /* 0 or a getaddrinfo EAI_ code */
        int saved_errno;
        char host[REDIS_ADDRESS_HOST_MAX + 1];
        char address[REDIS_RESOLVER_ADDRESS_MAX];
};

struct redis_resolver {
        struct ev_loop *loop;
        ev_async async_watcher;
        redis_resolver_done_fn done;
        void *data;
        struct lookup *lookup; /* the one out, or NULL */
};

static void lookup_release(struct lookup *lookup)
{
        bool last;

        pthread_mutex_lock(&lookup->lock);
        last = --lookup->references == 0;
        pthread_mutex_unlock(&lookup->lock);
        if (!last)
                return;
        pthread_mutex_destroy(&lookup->lock);
        free(lookup);
}

static void *lookup_run(void *arg)
{
        struct lookup *lookup = arg;
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        struct addrinfo *list = NULL;
        char address[REDIS_RESOLVER_ADDRESS_MAX] = "";
        int status = getaddrinfo(lookup->host, NULL, &hints, &list);
        int saved_errno = errno;

        if (status == 0) {
                /* The first address, as getaddrinfo orders them (RFC 6724). */
                if (getnameinfo(list->ai_addr, list->ai_addrlen, address, sizeof(address), NULL, 0,
                                NI_NUMERICHOST) != 0)
                        status = EAI_FAIL;
                freeaddrinfo(list);
        }
        pthread_mutex_lock(&lookup->lock);
        lookup->finished = true;
        lookup->status = status;
        lookup->saved_errno = saved_errno;
        memcpy(lookup->address, address, sizeof(address));
        /* Under the lock, so that the resolver cannot be freed between the test and the send. */
        if (lookup->owner)
                ev_async_send(lookup->owner->loop, &lookup->owner->async_watcher);
        pthread_mutex_unlock(&lookup->lock);
        lookup_release(lookup);
        return NULL;
}

static void on_lookup_done(struct ev_loop *loop, ev_async *watcher, int revents)
{
        struct redis_resolver *resolver = watcher->data;
        struct lookup *lookup = resolver->lookup;
        char address[REDIS_RESOLVER_ADDRESS_MAX], reason[128];
        int status, saved_errno;
        bool finished;

        (void)revents;
        if (!lookup)
                return;
        pthread_mutex_lock(&lookup->lock);
        finished = lookup->finished;
        status = lookup->status;
        saved_errno = lookup->saved_errno;
        memcpy(address, lookup->address, sizeof(address));
        pthread_mutex_unlock(&lookup->lock);
        if (!finished)
                return;
        resolver->lookup = NULL;
        ev_async_stop(loop, &resolver->async_watcher);
        lookup_release(lookup);
        if (status == 0) {
                resolver->done(resolver->data, 0, address, NULL);
                return;
        }
        if (status == EAI_SYSTEM)
                snprintf(reason, sizeof(reason), "%s", strerror(saved_errno));
        else
                snprintf(reason, sizeof(reason), "%s", gai_strerror(status));
        resolver->done(resolver->data, status == EAI_NONAME ? -ENOENT : -EHOSTUNREACH, NULL,
                       reason);
}

struct redis_resolver *redis_resolver_new(struct ev_loop *loop, redis_resolver_done_fn done,
                                          void *data)
{
        struct redis_resolver *resolver = calloc(1, sizeof(*resolver));

        if (!resolver)
                return NULL;
        resolver->loop = loop;
        resolver->done = done;
        resolver->data = data;
        ev_async_init(&resolver->async_watcher, on_lookup_done);
        resolver->async_watcher.data = resolver;
        return resolver;
}

int redis_resolver_start(struct redis_resolver *resolver, const char *host)
{
        struct lookup *lookup;
        pthread_attr_t attributes;
        pthread_t thread;
        sigset_t all, old;
        int r;

        if (resolver->lookup)
                return -EBUSY;
        if (strlen(host) > REDIS_ADDRESS_HOST_MAX)
                return -ENAMETOOLONG;
        lookup = calloc(1, sizeof(*lookup));
        if (!lookup)
                return -ENOMEM;
        pthread_mutex_init(&lookup->lock, NULL);
        lookup->references = 2; /* the thread's and the resolver's */
        lookup->owner = resolver;
        strcpy(lookup->host, host);
        ev_async_start(resolver->loop, &resolver->async_watcher);
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        /* The thread takes no signal: they are the loop's. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = -pthread_create(&thread, &attributes, lookup_run, lookup);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attributes);
        if (r < 0) {
                ev_async_stop(resolver->loop, &resolver->async_watcher);
                pthread_mutex_destroy(&lookup->lock);
                free(lookup);
                return r;
        }
        resolver->lookup = lookup;
        return 0;
}

bool redis_resolver_busy(const struct redis_resolver *resolver)
{
        return resolver->lookup != NULL;
}

void redis_resolver_free(struct redis_resolver *resolver)
{
        struct lookup *lookup;

        if (!resolver)
                return;
        lookup = resolver->lookup;
        if (lookup) {
                pthread_mutex_lock(&lookup->lock);
                lookup->owner = NULL;
                pthread_mutex_unlock(&lookup->lock);
                lookup_release(lookup);
        }
        ev_async_stop(resolver->loop, &resolver->async_watcher);
        free(resolver);
}

bool redis_resolver_is_numeric(const char *host)
{
        struct in6_addr address;

        return inet_pton(AF_INET, host, &address) == 1 || inet_pton(AF_INET6, host, &address) == 1;
}
