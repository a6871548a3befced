#include "resolve.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

int resolve_addresses(const char *host, const char *port, int family, int socktype,
                      struct addrinfo **result, const char **reason)
{
        struct addrinfo hints;
        char bare[256];
        size_t len = strlen(host);
        int r;

        /* "[::1]" is how people write an IPv6 host next to a port; getaddrinfo wants it bare. */
        if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof(bare)) {
                memcpy(bare, host + 1, len - 2);
                bare[len - 2] = '\0';
                host = bare;
        }
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = family;
        hints.ai_socktype = socktype;
        hints.ai_flags = AI_ADDRCONFIG;
        r = getaddrinfo(host, port, &hints, result);
        if (r == EAI_ADDRFAMILY || r == EAI_NONAME) {
                /*
                 * AI_ADDRCONFIG hides ::1 and 127.0.0.1 on a host whose only
                 * address is loopback (a container); ask again without it.
                 */
                hints.ai_flags = 0;
                r = getaddrinfo(host, port, &hints, result);
        }
        if (r == 0) {
                *reason = NULL;
                return 0;
        }
        *reason = r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r);
        switch (r) {
        case EAI_NONAME:
        case EAI_NODATA:
        case EAI_SERVICE:
                return -ENOENT;
        case EAI_AGAIN:
                return -EAGAIN;
        case EAI_MEMORY:
                return -ENOMEM;
        case EAI_SYSTEM:
                return errno ? -errno : -EIO;
        default:
                return -EINVAL;
        }
}
