#include "session.h"

/*
 * What every session does the same way around its own client_ops: set the
 * client up from the configuration, run the loop until the session says it
 * is over, and read the totals off the client.
 */

bool session_end(struct session_end *end, int result)
{
        if (end->finished)
                return false;
        end->finished = true;
        end->result = result;
        return true;
}

void session_client_configure(struct client *client, const struct session_config *config)
{
        client->observe = config->observe;
        client->observe_arg = config->observe_arg;
        client->sources = config->sources;
        client->source_port = config->source_port;
}

int session_client_run(struct client *client, struct ev_loop *loop,
                       const struct addrinfo *addresses, const struct session_config *config,
                       const struct client_ops *ops, void *session, const struct session_end *end)
{
        int r = client_start(client, loop, addresses, config->udp, config->timeout, ops, session);

        if (r < 0)
                return r;
        /* The session may be over already: a connect refused at once ends it inside client_start().
         */
        if (!end->finished)
                ev_run(loop, 0);
        return end->result;
}

void session_totals_from_client(struct session_totals *totals, const struct client *client,
                                const struct session_end *end)
{
        totals->input_failed = end->input_failed;
        totals->output_failed = end->output_failed;
        totals->connected = client->local.ss_family != 0;
        totals->sent = client->bytes_sent;
        totals->received = client->bytes_received;
}

void session_stop(struct ev_loop *loop, ev_io *input, ev_timer *timer, struct client *client)
{
        ev_io_stop(loop, input);
        ev_timer_stop(loop, timer);
        client_close(client);
        ev_break(loop, EVBREAK_ALL);
}
