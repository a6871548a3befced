#ifndef ECHOD_RESOLVE_H
#define ECHOD_RESOLVE_H

#include <netdb.h>

/*
 * Look up host (a name, an IPv4 or an IPv6 address, brackets allowed) and port
 * (a number or a service name) for a socket of socktype and family (AF_UNSPEC
 * for both). Returns 0 with a list to free with freeaddrinfo(), or -ENOENT
 * (no such host), -EAGAIN (try later), -ENOMEM or -EINVAL; *reason then says
 * why in words.
 */
int resolve_addresses(const char *host, const char *port, int family, int socktype,
                      struct addrinfo **result, const char **reason);

#endif
