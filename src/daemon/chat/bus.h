#ifndef ECHOD_CHAT_BUS_H
#define ECHOD_CHAT_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The chat's relay: a message published on one node is delivered to the
 * chat service of every node (this one included), which writes it to its
 * local users. Behind a table of operations, like the store: the in-process
 * bus here for one node, a Redis pub/sub bus later for several, with no
 * change to callers.
 *
 * Used from the loop thread only. A message is published after the store
 * has accepted it; publish returning an error means it reached no one.
 */

enum bus_kind {
        BUS_MESSAGE, /* MSG: text holds the message */
        BUS_JOIN,    /* JOIN: text is empty */
        BUS_LEAVE,   /* LEAVE: text is empty */
        /*
         * Sessions of name ended (/logout, /password): text is the hash of
         * the one session token that ended, or empty when every session of
         * the user ended. The user's connections logged in with it close,
         * except the sender's own connection. Nothing is shown to others.
         */
        BUS_END,
};

struct bus_message {
        enum bus_kind kind;
        uint64_t id;      /* the store's history id for BUS_MESSAGE, else 0 */
        uint64_t time_ms; /* milliseconds since the epoch */
        /*
         * The publishing connection, opaque to the bus and carried unchanged,
         * so that delivery can skip the sender's own connection (and only
         * it: a user logged in twice gets the message on the other one). A
         * bus spanning nodes adds its node's identity beside it.
         */
        uint64_t sender;
        const char *name; /* NUL-terminated, a valid name */
        const char *text; /* text_length <= CHAT_LINE_MAX bytes */
        size_t text_length;
};

/* Called for each message to deliver to local users; the message lives only during the call. */
typedef void (*bus_deliver_fn)(void *context, const struct bus_message *message);

/*
 * The names online on every node, each once, for /who: status 0 and count
 * names (living only during the call), or -errno (-EAGAIN: unreachable).
 */
typedef void (*bus_who_fn)(void *context, int status, const char *const *names, size_t count);

struct bus_ops {
        const char *kind; /* "local", ... for logs */
        void (*free)(void *state);
        int (*publish)(void *state, const struct bus_message *message);
        int (*subscribe)(void *state, bus_deliver_fn deliver, void *context);
        /*
         * Optional, for a bus spanning nodes. presence: name now has its
         * first (online) or no longer any (!online) logged-in connection on
         * this node; the bus then publishes JOIN or LEAVE itself, once for
         * all nodes (a user online on two nodes joins once), with sender as
         * the message's sender. who: the names online on any node; it ends
         * in exactly one call of done, possibly before it returns. Without
         * them, the chat publishes JOIN and LEAVE and lists its own users.
         */
        void (*presence)(void *state, const char *name, bool online, uint64_t sender);
        void (*who)(void *state, bus_who_fn done, void *context);
};

struct bus {
        const struct bus_ops *ops;
        void *state;
};

/* Set up the in-process bus: publish calls the subscriber at once. Returns 0 or -ENOMEM. */
int bus_local_open(struct bus *bus);

/* Close the bus and free its state; the struct bus itself is the caller's. */
static inline void bus_fini(struct bus *bus)
{
        if (bus->ops)
                bus->ops->free(bus->state);
        bus->ops = NULL;
        bus->state = NULL;
}

/*
 * Relay a message to every node's subscriber. Returns 0, -EINVAL for a
 * malformed message, -EDEADLK when called from inside a delivery (the
 * local bus delivers at once, so that would reorder messages), or -errno.
 */
static inline int bus_publish(struct bus *bus, const struct bus_message *message)
{
        return bus->ops->publish(bus->state, message);
}

/*
 * Set the one function that gets every message for local users, replacing
 * any earlier one; NULL stops delivery. Returns 0 or -errno.
 */
static inline int bus_subscribe(struct bus *bus, bus_deliver_fn deliver, void *context)
{
        return bus->ops->subscribe(bus->state, deliver, context);
}

#endif
