#ifndef ECHOD_ECHO_SERVICE_H
#define ECHOD_ECHO_SERVICE_H

#include "service.h"

/*
 * The echo service (RFC 862): TCP connections (echo_tcp.c) and UDP sockets
 * (echo_udp.c) behind one operations table. It serves the sockets named
 * "echo" (stream or datagram), "connection" (Accept=yes) and, when systemd
 * names none, "unknown".
 */
extern const struct service_ops echo_service_ops;

#endif
