#include "session.h"

#include <errno.h>

/* -z: a connection is made and closed at once; nothing is sent. */
struct zero_session {
        struct client client;
        struct ev_loop *loop;
        bool finished;
        int result;
};

static void finish(struct zero_session *s, int result)
{
        if (s->finished)
                return;
        s->finished = true;
        s->result = result;
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

        s.client.observe = config->observe;
        s.client.observe_arg = config->observe_arg;
        s.client.sources = config->sources;
        s.client.source_port = config->source_port;
        r = client_start(&s.client, loop, addresses, config->udp, config->timeout, &zero_ops, &s);
        if (r == 0) {
                if (!s.finished)
                        ev_run(loop, 0);
                r = s.result;
        }
        totals->connected = s.client.local.ss_family != 0;
        client_fini(&s.client);
        return r;
}
