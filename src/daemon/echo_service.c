#include "echo_service.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "echo_tcp.h"
#include "echo_udp.h"
#include "listen.h"
#include "log.h"
#include "ratelimit.h"
#include "udpguard.h"

/* Source slots of the UDP rate limiter. */
#define RATELIMIT_SOURCES 8192

struct echo_service {
        struct service_env env;
        unsigned max_connections;
        struct echo_tcp_pool pool;
        struct echo_udp udp[LISTEN_MAX];
        size_t udp_count;
        bool udp_paused;
        struct udpguard guard;
        struct ratelimit limit;
        struct echo_udp_stats udp_stats;
};

static void on_connection_closed(struct echo_tcp_pool *pool)
{
        struct echo_service *echo = pool->owner;

        echo->env.connection_closed(echo->env.server);
}

/*
 * The ports echod's standalone UDP echo may take: each configured port and,
 * unless the port is strict, the ones after it the busy-port fallback tries.
 * Datagrams from them are never answered (see udpguard_add_own_ports).
 */
static void guard_configured_ports(struct udpguard *guard, const struct config *config)
{
        for (size_t i = 0; i < config->echo_count; i++) {
                const struct addr_spec *spec = &config->echo[i];
                unsigned first = addr_port((const struct sockaddr *)&spec->sa), last = first;

                if (spec->proto != ADDR_UDP || first == 0)
                        continue;
                if (!config->strict_port)
                        last = first + LISTEN_PORT_TRIES - 1 > 65535 ? 65535
                                                                     : first + LISTEN_PORT_TRIES - 1;
                if (udpguard_add_own_ports(guard, (unsigned short)first, (unsigned short)last) < 0)
                        break; /* the list holds every socket echod can have */
        }
}

static int echo_init(void **state, const struct service_env *env)
{
        const struct config *config = env->config;
        struct echo_service *echo = calloc(1, sizeof(*echo));
        int r;

        if (!echo)
                return -ENOMEM;
        echo->env = *env;
        echo->max_connections = config->max_connections;
        r = echo_tcp_pool_init(&echo->pool, env->loop, config->buffer_size, config->idle_timeout);
        if (r < 0)
                goto fail;
        echo->pool.owner = echo;
        echo->pool.socket_buffer = (int)config->socket_buffer;
        echo->pool.on_close = on_connection_closed;
        r = ratelimit_init(&echo->limit, RATELIMIT_SOURCES, config->udp_rate, config->udp_burst);
        if (r < 0) {
                echo_tcp_pool_fini(&echo->pool);
                goto fail;
        }
        ratelimit_configure_global(&echo->limit, config->udp_global_rate);
        udpguard_init(&echo->guard);
        guard_configured_ports(&echo->guard, config);
        *state = echo;
        return 0;
fail:
        free(echo);
        return r;
}

static int echo_connection(void *state, int fd, const struct sockaddr *peer, socklen_t length)
{
        struct echo_service *echo = state;

        return echo_tcp_start(&echo->pool, fd, peer, length);
}

static int echo_datagram(void *state, int fd)
{
        struct echo_service *echo = state;
        struct sockaddr_storage local;
        socklen_t length = sizeof(local);
        int r;

        if (echo->udp_count == LISTEN_MAX)
                return -EMFILE;
        /*
         * Under the shipped unit (PrivateNetwork=, no AF_NETLINK) this fails or
         * sees only lo; the other guards still apply. See docs/hardening.md.
         */
        if (echo->guard.broadcast_count == 0 && (r = udpguard_load_interfaces(&echo->guard)) < 0)
                log_debug("udp: cannot list interfaces (%s); subnet broadcast sources are not "
                          "recognised",
                          strerror(-r));
        r = echo_udp_start(&echo->udp[echo->udp_count], echo->env.loop, fd, &echo->guard,
                           &echo->limit, &echo->udp_stats);
        if (r < 0)
                return r;
        /*
         * A datagram from this socket's port (spoofed, on loopback, or from
         * another of our sockets) would be answered by the socket that sent
         * it: an echo loop. Every UDP socket's port goes on the guard's list,
         * which all of them share.
         */
        if (getsockname(fd, (struct sockaddr *)&local, &length) == 0 &&
            addr_port((struct sockaddr *)&local) != 0) {
                unsigned short port = (unsigned short)addr_port((struct sockaddr *)&local);

                if (udpguard_add_own_ports(&echo->guard, port, port) < 0)
                        log_warning("udp: too many echo ports to guard; port %u is not", port);
        }
        echo->udp_count++;
        return 0;
}

static bool echo_has_room(void *state)
{
        struct echo_service *echo = state;

        return echo->pool.count < echo->max_connections;
}

static void echo_pause_datagrams(void *state, bool paused)
{
        struct echo_service *echo = state;

        if (paused == echo->udp_paused)
                return;
        echo->udp_paused = paused;
        for (size_t i = 0; i < echo->udp_count; i++)
                echo_udp_pause(&echo->udp[i], paused);
}

static void echo_drain(void *state)
{
        struct echo_service *echo = state;

        for (size_t i = 0; i < echo->udp_count; i++)
                echo_udp_stop(&echo->udp[i]);
        echo_tcp_pool_drain(&echo->pool);
}

static void echo_close_all(void *state, const char *reason)
{
        struct echo_service *echo = state;

        echo_tcp_pool_close_all(&echo->pool, reason);
}

static void echo_reload(void *state, const struct config *config)
{
        struct echo_service *echo = state;

        echo->max_connections = config->max_connections;
        if (echo->pool.idle_timeout != config->idle_timeout)
                echo_tcp_pool_set_idle_timeout(&echo->pool, config->idle_timeout);
        ratelimit_configure(&echo->limit, config->udp_rate, config->udp_burst);
        ratelimit_configure_global(&echo->limit, config->udp_global_rate);
        echo->pool.socket_buffer = (int)config->socket_buffer;
}

static void echo_tick(void *state)
{
        struct echo_service *echo = state;

        for (size_t i = 0; i < echo->udp_count; i++)
                echo_udp_flush_drops(&echo->udp[i], false);
}

static void echo_counts(void *state, struct service_counts *counts)
{
        struct echo_service *echo = state;

        *counts = (struct service_counts){
            .open = echo->pool.count,
            .total = echo->pool.total,
            .bytes_in = echo->pool.bytes_in,
            .bytes_out = echo->pool.bytes_out,
            .datagrams = echo->udp_stats.answered,
            .dropped = echo->udp_stats.dropped_guard + echo->udp_stats.dropped_rate,
        };
}

static void echo_status(void *state, char *buf, size_t size)
{
        struct echo_service *echo = state;
        int n;

        n = snprintf(buf, size, "echo: %u connection%s (%" PRIu64 " total, %" PRIu64 " bytes echoed)",
                     echo->pool.count, echo->pool.count == 1 ? "" : "s", echo->pool.total,
                     echo->pool.bytes_out);
        /* UDP figures only when there is a UDP socket to speak of. */
        if (echo->udp_count > 0 && n >= 0 && (size_t)n < size)
                snprintf(buf + n, size - (size_t)n,
                         "; udp: %" PRIu64 " echoed, %" PRIu64 " dropped",
                         echo->udp_stats.answered,
                         echo->udp_stats.dropped_guard + echo->udp_stats.dropped_rate);
}

static int echo_hand_over(void *state, struct handover_writer *writer,
                          const struct service_handover *handover)
{
        struct echo_service *echo = state;

        for (size_t i = 0; i < echo->udp_count; i++)
                echo_udp_stop(&echo->udp[i]);
        return echo_tcp_pool_hand_over(&echo->pool, writer, handover);
}

static int echo_take_over(void *state, struct handover_record *record, int fd)
{
        struct echo_service *echo = state;

        return echo_tcp_take_over(&echo->pool, record, fd);
}

static void echo_fini(void *state)
{
        struct echo_service *echo = state;

        for (size_t i = 0; i < echo->udp_count; i++)
                echo_udp_stop(&echo->udp[i]);
        echo->pool.on_close = NULL;
        echo_tcp_pool_fini(&echo->pool);
        ratelimit_fini(&echo->limit);
        free(echo);
}

static const char *const echo_socket_names[] = {"echo", "connection", "unknown", NULL};

const struct service_ops echo_service_ops = {
    .name = "echo",
    .socket_names = echo_socket_names,
    .init = echo_init,
    .connection = echo_connection,
    .datagram = echo_datagram,
    .has_room = echo_has_room,
    .pause_datagrams = echo_pause_datagrams,
    .drain = echo_drain,
    .close_all = echo_close_all,
    .reload = echo_reload,
    .tick = echo_tick,
    .counts = echo_counts,
    .status = echo_status,
    .hand_over = echo_hand_over,
    .handover_type = HANDOVER_ECHO_TCP,
    .take_over = echo_take_over,
    .fini = echo_fini,
};
