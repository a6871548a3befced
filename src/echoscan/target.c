#include "target.h"

#include "cidr.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct target *append(struct target_list *list, const char *name)
{
        struct target *t;

        if (list->count == list->capacity) {
                size_t capacity = list->capacity ? list->capacity * 2 : 4;
                struct target *items = realloc(list->items, capacity * sizeof(*items));

                if (!items)
                        return NULL;
                list->items = items;
                list->capacity = capacity;
        }
        t = &list->items[list->count++];
        memset(t, 0, sizeof(*t));
        snprintf(t->name, sizeof(t->name), "%s", name);
        return t;
}

static int add_block(struct target_list *list, const char *text, int family)
{
        struct cidr block;
        uint32_t count;
        int r;

        r = cidr_parse(text, &block);
        if (r < 0)
                return r;
        if (family != AF_UNSPEC && family != block.family)
                return -EAFNOSUPPORT;
        count = cidr_count(&block);
        for (uint32_t i = 0; i < count; i++) {
                struct target *t = append(list, text);

                if (!t)
                        return -ENOMEM;
                cidr_address(&block, i, &t->sa, &t->len);
        }
        return 0;
}

static int gai_to_errno(int code)
{
        switch (code) {
        case EAI_NONAME:
#ifdef EAI_NODATA
        case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
        case EAI_ADDRFAMILY:
#endif
        case EAI_FAMILY:
                return -ENOENT;
        case EAI_AGAIN:
                return -EAGAIN;
        case EAI_MEMORY:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

int target_add(struct target_list *list, const char *text, int family)
{
        struct addrinfo hints, *res = NULL;
        struct target *t;
        int r;

        if (!text || !*text)
                return -EINVAL;
        if (strchr(text, '/'))
                return add_block(list, text, family);
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = family;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_ADDRCONFIG;
        r = getaddrinfo(text, NULL, &hints, &res);
        if (r == EAI_NONAME || r == EAI_ADDRFAMILY) {
                /* AI_ADDRCONFIG hides loopback-only families; ask again without it. */
                hints.ai_flags = 0;
                r = getaddrinfo(text, NULL, &hints, &res);
        }
        if (r != 0)
                return gai_to_errno(r);
        if (res->ai_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)res->ai_addr;

                /* Without a zone the kernel cannot tell which link is meant. */
                if (IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr) && in6->sin6_scope_id == 0) {
                        freeaddrinfo(res);
                        return -EDESTADDRREQ;
                }
        }
        t = append(list, text);
        if (!t) {
                freeaddrinfo(res);
                return -ENOMEM;
        }
        memcpy(&t->sa, res->ai_addr, res->ai_addrlen);
        t->len = res->ai_addrlen;
        freeaddrinfo(res);
        return 0;
}

void target_list_fini(struct target_list *list)
{
        free(list->items);
        list->items = NULL;
        list->count = 0;
        list->capacity = 0;
}

/* The address bytes of ss (4 or 16) and their family. */
static const unsigned char *address_bytes(const struct sockaddr_storage *ss, size_t *len)
{
        if (ss->ss_family == AF_INET) {
                *len = 4;
                return (const unsigned char *)&((const struct sockaddr_in *)ss)->sin_addr;
        }
        *len = 16;
        return (const unsigned char *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
}

static bool in_block(const struct cidr *block, const struct sockaddr_storage *ss)
{
        size_t len;
        const unsigned char *bytes = address_bytes(ss, &len);
        unsigned full = block->prefix / 8, rest = block->prefix % 8;

        if (ss->ss_family != block->family)
                return false;
        if (memcmp(bytes, block->addr, full) != 0)
                return false;
        return rest == 0 ||
               ((bytes[full] ^ block->addr[full]) & (0xffu << (8 - rest)) & 0xffu) == 0;
}

static bool same_address(const struct sockaddr_storage *a, const struct sockaddr *b)
{
        size_t la, lb;
        const unsigned char *ba, *bb;

        if (a->ss_family != b->sa_family)
                return false;
        ba = address_bytes(a, &la);
        bb = address_bytes((const struct sockaddr_storage *)(const void *)b, &lb);
        return la == lb && memcmp(ba, bb, la) == 0;
}

int target_exclude(struct target_list *list, const char *text, int family)
{
        struct addrinfo hints, *res = NULL;
        struct cidr block;
        size_t kept = 0, before = list->count;
        int r;

        if (!text || !*text)
                return -EINVAL;
        if (strchr(text, '/')) {
                r = cidr_parse(text, &block);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < list->count; i++) {
                        if (!in_block(&block, &list->items[i].sa))
                                list->items[kept++] = list->items[i];
                }
                list->count = kept;
                return (int)(before - kept);
        }
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = family;
        hints.ai_socktype = SOCK_STREAM;
        r = getaddrinfo(text, NULL, &hints, &res);
        if (r != 0)
                return gai_to_errno(r);
        for (size_t i = 0; i < list->count; i++) {
                bool excluded = false;

                for (const struct addrinfo *ai = res; ai && !excluded; ai = ai->ai_next)
                        excluded = same_address(&list->items[i].sa, ai->ai_addr);
                if (!excluded)
                        list->items[kept++] = list->items[i];
        }
        freeaddrinfo(res);
        list->count = kept;
        return (int)(before - kept);
}
