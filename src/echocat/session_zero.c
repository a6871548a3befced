#include "session.h"

#include <errno.h>

/* -z: a connection is made and closed at once; nothing is sent. */
struct zero_session {
        struct client client;
        struct ev_loop *loop;
        struct session_end end;
};

static void finish(struct zero_session *s, int result)
{
        if (!session_end(&s->end, result))
                return;
        ev_break(s->loop, EVBREAK_ALL);
}

static void on_connected(struct client *client)
{
        struct zero_session *s = client->session;

        client_close(client);
        finish(s, 0);
}

static void on_received(struct client *client, const char *data, size_t len)
{
        (void)client;
        (void)data;
        (void)len;
}

static void on_writable(struct client *client)
{
        (void)client;
}

static void on_closed(struct client *client, int error)
{
        finish(client->session, error ? error : -ECONNABORTED);
}

static const struct client_ops zero_ops = {
    .connected = on_connected,
    .received = on_received,
    .writable = on_writable,
    .closed = on_closed,
};

int session_zero_run(struct ev_loop *loop, const struct addrinfo *addresses,
                     const struct session_config *config, struct session_totals *totals)
{
        struct zero_session s = {.loop = loop};
        int r;

        session_client_configure(&s.client, config);
        r = session_client_run(&s.client, loop, addresses, config, &zero_ops, &s, &s.end);
        session_totals_from_client(totals, &s.client, &s.end);
        client_fini(&s.client);
        return r;
}
