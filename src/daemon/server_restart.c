/* The server's side of a planned restart (restart.h): handing connections over and taking them
 * over. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "restart.h"
#include "server_internal.h"

static int store_connection(void *arg, int fd, uint64_t *token)
{
        struct server *server = arg;

        *token = ++server->next_handover_token;
        return restart_store_fd(fd, *token);
}

/*
 * A planned restart: every connection's socket and state go to systemd's
 * fd store, for the next process to serve on (restart.h). Services that
 * cannot hand over close their connections cleanly.
 */
void server_hand_over(struct server *server, const char *why)
{
        struct service_handover handover = {.store_fd = store_connection, .server = server};
        struct handover_writer writer;
        const unsigned char *state;
        char status[96];
        unsigned open = server->core->open_connections(server);
        ev_tstamp started = ev_time();
        long length;
        int handed = 0, r;

        server->stopping = true;
        snprintf(status, sizeof(status), "Restarting: handing %u connection(s) over", open);
        notify_stopping(status);
        server->core->update_accepting(server);
        handover_writer_init(&writer);
        for (size_t i = 0; i < server->service_count; i++) {
                struct server_service *service = &server->services[i];

                if (service->ops->hand_over) {
                        r = service->ops->hand_over(service->state, &writer, &handover);
                        if (r > 0)
                                handed += r;
                } else {
                        service->ops->close_all(service->state, "restart");
                }
        }
        length = handover_writer_finish(&writer, &state);
        r = length < 0 ? (int)length : restart_store_state(state, (size_t)length);
        if (r < 0)
                log_error("restart: cannot store the state of %d connection(s): %s; the next "
                          "process will close them",
                          handed, strerror(-r));
        else
                log_notice("%s: restarting; handed %d connection(s) over to the next "
                           "process (%ld bytes of state, %.1f ms)",
                           why, handed, length, (ev_time() - started) * 1e3);
        handover_writer_fini(&writer);
        ev_break(server->loop, EVBREAK_ALL);
}

int server_claim_inherited(void *arg, int fd, const char *name)
{
        struct server *server = arg;

        return restart_claim(&server->inherited, fd, name);
}

/* The service that reads records of type, started if need be; NULL if none. */
static struct server_service *service_for_record(struct server *server, uint16_t type)
{
        for (size_t i = 0; service_table[i]; i++) {
                if (service_table[i]->take_over && service_table[i]->handover_type == type)
                        return server->core->service_for(server, service_table[i]);
        }
        return NULL;
}

/* True if the service has an AF_UNIX stream listener: then its connections may be AF_UNIX too. */
static bool serves_unix(const struct server *server, const struct server_service *service)
{
        for (size_t i = 0; i < server->listener_count; i++) {
                const struct listener *listener = &server->listeners[i];

                if (listener->service == service && listener->socket.type == LISTEN_STREAM &&
                    listener->socket.address.ss_family == AF_UNIX)
                        return true;
        }
        return false;
}

/* Serve one record's connection; true if a service took it (each failure is one log line). */
static bool take_over_record(struct server *server, struct handover_record *record)
{
        struct server_service *service = service_for_record(server, record->type);
        uint64_t token;
        int fd, r;

        if (!service || handover_get_u64(record, &token) < 0) {
                log_warning("restart: skipping a record of unknown type %u", record->type);
                return false;
        }
        fd = restart_take_fd(&server->inherited, token);
        if (fd < 0) {
                log_warning("restart: no socket for %s connection %" PRIu64, service->ops->name,
                            token);
                return false;
        }
        /* Only what the service could have accepted itself: not a datagram or foreign socket. */
        r = restart_check_connection(fd, serves_unix(server, service));
        if (r < 0) {
                log_warning("restart: refusing " RESTART_CONN_PREFIX "%" PRIu64
                            " for the %s service: not a connected stream socket it serves (%s)",
                            token, service->ops->name, strerror(-r));
                close(fd);
                return false;
        }
        r = service->ops->take_over(service->state, record, fd);
        if (r < 0) {
                log_warning("restart: cannot serve %s connection %" PRIu64 " on: %s",
                            service->ops->name, token, strerror(-r));
                return false;
        }
        return true;
}

/*
 * Serve on the connections a previous process handed over, and forget the
 * rest cleanly. The state is checked whole before any record is served
 * (handover_reader_init); a state refused is one error line.
 */
void server_take_over(struct server *server)
{
        struct restart_inherited *inherited = &server->inherited;
        struct handover_reader reader;
        struct handover_record record;
        unsigned char *state = NULL;
        size_t length = 0, taken = 0, count = inherited->conn_count, closed;
        int r;

        if (inherited->state_fd < 0 && inherited->conn_count == 0)
                return;
        r = restart_read_state(inherited, &state, &length);
        if (r == 0)
                r = handover_reader_init(&reader, state, length);
        if (r < 0) {
                free(state);
                restart_finish(inherited);
                log_error("restart: the state left by the previous process is %s (%s); closed "
                          "its %zu connection(s)",
                          r == -ENOENT ? "missing" : "not understood", strerror(-r), count);
                return;
        }
        /* Once the reader accepted the state, no record is missing or out of bounds. */
        while (handover_next_record(&reader, &record) == 1) {
                if (take_over_record(server, &record))
                        taken++;
        }
        free(state);
        closed = restart_finish(inherited);
        log_notice("restart: serving %zu connection(s) handed over by the previous process%s",
                   taken, closed ? "; closed the others" : "");
        if (closed)
                log_warning("restart: closed %zu connection(s) that could not be taken over",
                            closed);
}
