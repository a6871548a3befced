/*
 * Ending every session of a user, tried until the store has done it
 * (chat_revoke.h). A stolen token must stop working once the password has
 * changed, so a revoke that fails (Redis gone between storing the new hash
 * and ending the sessions) is not only logged: it stays in the service's
 * list and is tried again, with a backoff, and at once when the store says
 * it is back, so that it reaches Redis before any login made after it.
 */
#include "chat_revoke.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "log.h"

#define REVOKE_BACKOFF_MIN 0.1 /* seconds */
#define REVOKE_BACKOFF_MAX 5.0

struct chat_revoke {
        struct chat_revoke *next;
        struct chat_service *chat;
        ev_timer timer; /* the next try, after a failure */
        double backoff;
        bool calling; /* a try is out */
        bool again;   /* asked again while a try was out: one more try after it */
        unsigned failures;
        char name[CHAT_NAME_MAX + 1];
};

static void revoke_free(struct chat_revoke *revoke)
{
        struct chat_revoke **link = &revoke->chat->revokes;

        while (*link && *link != revoke)
                link = &(*link)->next;
        if (*link)
                *link = revoke->next;
        ev_timer_stop(revoke->chat->loop, &revoke->timer);
        free(revoke);
}

static void on_revoked(void *context, const struct store_reply *reply);

static void try_revoke(struct chat_revoke *revoke)
{
        ev_timer_stop(revoke->chat->loop, &revoke->timer);
        revoke->calling = true;
        revoke->again = false;
        store_session_revoke_user_async(&revoke->chat->store, revoke->name, on_revoked, revoke);
}

static void on_retry(struct ev_loop *loop, ev_timer *timer, int revents)
{
        (void)loop;
        (void)revents;
        try_revoke(timer->data);
}

static void on_revoked(void *context, const struct store_reply *reply)
{
        struct chat_revoke *revoke = context;
        struct chat_service *chat = revoke->chat;

        revoke->calling = false;
        /* -ECANCELED: the chat is stopping and closed the store; chat_revoke_fini() frees. */
        if (reply->status == -ECANCELED)
                return;
        if (reply->status >= 0 && !revoke->again) {
                if (revoke->failures > 0)
                        log_notice("chat: the sessions of %s ended after %u failed tries",
                                   revoke->name, revoke->failures);
                revoke_free(revoke);
                return;
        }
        if (reply->status < 0) {
                /* One line per user, not one per try: the store's own warning says it is down. */
                if (revoke->failures++ == 0)
                        log_warning("chat: store: cannot end the sessions of %s: %s; trying again",
                                    revoke->name, reply->error);
                ev_timer_set(&revoke->timer, revoke->backoff, 0);
                ev_timer_start(chat->loop, &revoke->timer);
                revoke->backoff *= 2;
                if (revoke->backoff > REVOKE_BACKOFF_MAX)
                        revoke->backoff = REVOKE_BACKOFF_MAX;
                return;
        }
        /* Done, but asked again meanwhile (a second password change): once more. */
        try_revoke(revoke);
}

int chat_revoke_user(struct chat_service *chat, const char *name)
{
        struct chat_revoke *revoke;

        for (revoke = chat->revokes; revoke; revoke = revoke->next) {
                if (strcasecmp(revoke->name, name) != 0)
                        continue;
                if (revoke->calling)
                        revoke->again = true;
                else
                        try_revoke(revoke);
                return 0;
        }
        revoke = calloc(1, sizeof(*revoke));
        if (!revoke)
                return -ENOMEM;
        revoke->chat = chat;
        revoke->backoff = REVOKE_BACKOFF_MIN;
        snprintf(revoke->name, sizeof(revoke->name), "%s", name);
        ev_init(&revoke->timer, on_retry);
        revoke->timer.data = revoke;
        revoke->next = chat->revokes;
        chat->revokes = revoke;
        /* The reply may come before this returns (SQLite, or a store known to be down). */
        try_revoke(revoke);
        return 0;
}

void chat_revoke_store_up(struct chat_service *chat)
{
        struct chat_revoke *revoke, *next;

        for (revoke = chat->revokes; revoke; revoke = next) {
                next = revoke->next;
                if (!revoke->calling)
                        try_revoke(revoke);
        }
}

void chat_revoke_fini(struct chat_service *chat)
{
        while (chat->revokes)
                revoke_free(chat->revokes);
}
