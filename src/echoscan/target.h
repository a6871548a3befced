#ifndef ECHOD_TARGET_H
#define ECHOD_TARGET_H

#include <stddef.h>
#include <sys/socket.h>

/* Longest host name kept for reports (longer names are cut). */
#define TARGET_NAME_MAX 256

/* One address to scan, with the name the user gave for it. */
struct target {
        char name[TARGET_NAME_MAX];
        struct sockaddr_storage sa;
        socklen_t len;
};

struct target_list {
        struct target *items;
        size_t count;
        size_t capacity;
};

/*
 * Add the hosts text names: a numeric address, a CIDR block or a host name
 * (the first address getaddrinfo() gives). family is AF_UNSPEC, AF_INET or
 * AF_INET6. Returns 0, -EINVAL (bad CIDR or wrong family for a numeric
 * address), -E2BIG (block too large), -ENOENT (no such host), -EAGAIN
 * (temporary resolver failure), -EIO (other resolver failure) or -ENOMEM.
 */
int target_add(struct target_list *list, const char *text, int family);

/*
 * Remove from list every target that text names: a CIDR block (every
 * address inside it), a numeric address or a host name (every address
 * getaddrinfo() gives). Returns the number removed, or the errors of
 * target_add().
 */
int target_exclude(struct target_list *list, const char *text, int family);

/* Free the list's memory; the list is empty afterwards. */
void target_list_fini(struct target_list *list);

#endif
