#ifndef ECHOD_CHAT_REDIS_ADDRESS_H
#define ECHOD_CHAT_REDIS_ADDRESS_H

/*
 * Where the Redis chat backend connects, as the config gives it:
 * "redis://HOST[:PORT][/DB]" (HOST a name, an IPv4 address or an IPv6
 * address in brackets) or "unix:PATH" (database 0). A pure parser.
 */

#define REDIS_ADDRESS_HOST_MAX 253 /* the longest DNS name */
#define REDIS_ADDRESS_PATH_MAX 107 /* sun_path less its NUL */
#define REDIS_ADDRESS_DB_MAX   1000
#define REDIS_DEFAULT_PORT     6379

struct redis_address {
        char host[REDIS_ADDRESS_HOST_MAX + 1]; /* empty for a unix socket */
        char path[REDIS_ADDRESS_PATH_MAX + 1]; /* empty for TCP */
        int port;                              /* 1..65535; 0 for a unix socket */
        int db;                                /* 0..REDIS_ADDRESS_DB_MAX */
};

/* Parse a Redis address into *out. Returns 0 or -EINVAL (out is then unchanged). */
int redis_address_parse(const char *text, struct redis_address *out);

#endif
