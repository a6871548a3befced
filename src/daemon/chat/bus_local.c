#include "bus.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "chat_line.h"

/* The in-process bus: one node, so publishing is delivering. */

struct local_state {
        bus_deliver_fn deliver;
        void *context;
        bool delivering;
};

static void local_free(void *opaque)
{
        free(opaque);
}

static int local_publish(void *opaque, const struct bus_message *message)
{
        struct local_state *state = opaque;

        if (!message->name || chat_name_check(message->name, strlen(message->name)) < 0 ||
            message->text_length > CHAT_LINE_MAX || (message->text_length && !message->text))
                return -EINVAL;
        if (message->kind != BUS_MESSAGE && message->kind != BUS_JOIN &&
            message->kind != BUS_LEAVE && message->kind != BUS_END)
                return -EINVAL;
        if (state->delivering)
                return -EDEADLK;
        if (!state->deliver)
                return 0; /* no chat service listening, so no local user to reach */
        state->delivering = true;
        state->deliver(state->context, message);
        state->delivering = false;
        return 0;
}

static int local_subscribe(void *opaque, bus_deliver_fn deliver, void *context)
{
        struct local_state *state = opaque;

        state->deliver = deliver;
        state->context = deliver ? context : NULL;
        return 0;
}

static const struct bus_ops local_ops = {
    .kind = "local",
    .free = local_free,
    .publish = local_publish,
    .subscribe = local_subscribe,
};

int bus_local_open(struct bus *bus)
{
        struct local_state *state = calloc(1, sizeof(*state));

        if (!state)
                return -ENOMEM;
        bus->ops = &local_ops;
        bus->state = state;
        return 0;
}
