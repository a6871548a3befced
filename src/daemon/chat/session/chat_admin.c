/*
 * The chat's admin operations for echoctl (control_host.h): forget the
 * address-to-name table, list and remove users, kick a user. Ending a
 * user's connections goes through the normal close path, so the others see
 * LEAVE and the journal has the disconnects.
 */
#include "chat_admin.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "chat_conn.h"
#include "control_host.h"
#include "log.h"

static int admin_forget_identities(void *state)
{
        struct chat_service *chat = state;

        return store_identity_forget_all(&chat->store);
}

struct list_context {
        struct chat_service *chat;
        void (*each)(void *arg, const char *name, unsigned sessions);
        void *arg;
};

static int list_one(void *context, const struct store_user *user)
{
        struct list_context *list = context;

        list->each(list->arg, user->name, chat_online_count(list->chat, user->name, NULL));
        return 0;
}

static int admin_list_users(void *state,
                            void (*each)(void *arg, const char *name, unsigned sessions), void *arg)
{
        struct list_context list = {.chat = state, .each = each, .arg = arg};
        int r = store_user_list(&list.chat->store, list_one, &list);

        return r < 0 ? r : 0;
}

/* Close every connection of name (logged in or logging in as it) with a BYE. */
static int end_connections(struct chat_service *chat, const char *name, const char *why)
{
        int ended = 0;

        for (struct chat_conn *conn = chat->head; conn; conn = conn->next) {
                if (conn->phase == CHAT_PHASE_CLOSING || strcasecmp(conn->name, name) != 0)
                        continue;
                chat_sendf(conn, "BYE %s\n", why);
                chat_close_after_flush(conn, why);
                ended++;
        }
        return ended;
}

static int admin_remove_user(void *state, const char *name)
{
        struct chat_service *chat = state;
        int r = store_user_remove(&chat->store, name);

        if (r < 0)
                return r;
        end_connections(chat, name, "user removed by the administrator");
        return 0;
}

static int admin_kick(void *state, const char *name)
{
        struct chat_service *chat = state;
        struct store_user user;
        int r = store_user_get(&chat->store, name, &user);

        if (r < 0)
                return r;
        /* Its tokens end too, or the client would be back in a second. */
        r = store_session_revoke_user(&chat->store, user.name);
        if (r < 0)
                return r;
        return end_connections(chat, user.name, "kicked by the administrator");
}

static unsigned admin_logged_in(void *state)
{
        struct chat_service *chat = state;

        return chat->online;
}

static const struct control_chat_admin chat_admin_table = {
    .forget_identities = admin_forget_identities,
    .list_users = admin_list_users,
    .remove_user = admin_remove_user,
    .kick = admin_kick,
    .logged_in = admin_logged_in,
};

const struct control_chat_admin *chat_admin(void *state)
{
        (void)state;
        return &chat_admin_table;
}
