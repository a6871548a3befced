#include "echo_udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "log.h"

/* A datagram cannot be longer; MSG_TRUNC catches anything odd. */
#define UDP_DATAGRAM_MAX 65536
/* Datagrams handled per wake-up before other watchers get a turn. */
#define UDP_BATCH 64
/* Dropped datagrams are summed up in one log line at most this often. */
#define UDP_DROP_LOG_INTERVAL 10.0

static int enable_pktinfo(int fd)
{
        struct sockaddr_storage local;
        socklen_t length = sizeof(local);
        int one = 1;

        if (getsockname(fd, (struct sockaddr *)&local, &length) < 0)
                return -errno;
        if (local.ss_family == AF_INET) {
                if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0)
                        return -errno;
        } else if (local.ss_family == AF_INET6) {
                /* Also reports IPv4 destinations (as mapped addresses) on dual-stack sockets. */
                if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0)
                        return -errno;
        } else {
                return -EAFNOSUPPORT;
        }
        return 0;
}

/* The destination from the ancillary data, as a sockaddr (port 0). */
static bool destination_of(struct msghdr *message, struct sockaddr_storage *dst)
{
        struct cmsghdr *cmsg;

        memset(dst, 0, sizeof(*dst));
        for (cmsg = CMSG_FIRSTHDR(message); cmsg; cmsg = CMSG_NXTHDR(message, cmsg)) {
                if (cmsg->cmsg_level == IPPROTO_IP && cmsg->cmsg_type == IP_PKTINFO) {
                        struct in_pktinfo info;
                        struct sockaddr_in *in4 = (struct sockaddr_in *)dst;

                        memcpy(&info, CMSG_DATA(cmsg), sizeof(info));
                        in4->sin_family = AF_INET;
                        in4->sin_addr = info.ipi_addr;
                        return true;
                }
                if (cmsg->cmsg_level == IPPROTO_IPV6 && cmsg->cmsg_type == IPV6_PKTINFO) {
                        struct in6_pktinfo info;
                        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)dst;

                        memcpy(&info, CMSG_DATA(cmsg), sizeof(info));
                        in6->sin6_family = AF_INET6;
                        in6->sin6_addr = info.ipi6_addr;
                        return true;
                }
        }
        return false;
}

/*
 * Turn the received packet info into the one to send with: the reply leaves
 * from the address the datagram was sent to.
 */
static void prepare_reply_control(struct msghdr *message)
{
        struct cmsghdr *cmsg;

        for (cmsg = CMSG_FIRSTHDR(message); cmsg; cmsg = CMSG_NXTHDR(message, cmsg)) {
                if (cmsg->cmsg_level == IPPROTO_IP && cmsg->cmsg_type == IP_PKTINFO) {
                        struct in_pktinfo info;

                        memcpy(&info, CMSG_DATA(cmsg), sizeof(info));
                        info.ipi_spec_dst = info.ipi_addr;
                        info.ipi_ifindex = 0;
                        memcpy(CMSG_DATA(cmsg), &info, sizeof(info));
                        message->msg_controllen = CMSG_SPACE(sizeof(info));
                        message->msg_control = cmsg;
                        return;
                }
                if (cmsg->cmsg_level == IPPROTO_IPV6 && cmsg->cmsg_type == IPV6_PKTINFO) {
                        message->msg_controllen = CMSG_SPACE(sizeof(struct in6_pktinfo));
                        message->msg_control = cmsg;
                        return;
                }
        }
        message->msg_control = NULL;
        message->msg_controllen = 0;
}

void echo_udp_flush_drops(struct echo_udp *udp, bool force)
{
        ev_tstamp now;

        if (udp->dropped_unlogged == 0 || !udp->loop)
                return;
        now = ev_now(udp->loop);
        if (!force && now - udp->last_drop_log < UDP_DROP_LOG_INTERVAL)
                return;
        log_record(LOG_NOTICE, NULL, (const char *const[]){"SERVICE=echo", NULL},
                   "udp: dropped %llu datagram(s) on %s (the first from %s: %s)",
                   (unsigned long long)udp->dropped_unlogged, udp->local, udp->last_drop_source,
                   udp->last_drop_reason);
        udp->dropped_unlogged = 0;
        udp->last_drop_log = now;
}

static void note_drop(struct echo_udp *udp, const struct sockaddr *src, const char *reason)
{
        udp->dropped_unlogged++;
        /* Formatting the address per datagram would cost a flood more than it costs us. */
        if (udp->dropped_unlogged == 1) {
                addr_format(src, udp->last_drop_source, sizeof(udp->last_drop_source));
                udp->last_drop_reason = reason;
        }
        if (log_enabled(LOG_DEBUG)) {
                char peer[ADDR_TEXT_MAX];

                addr_format(src, peer, sizeof(peer));
                log_debug("udp: dropped a datagram from %s: %s", peer, reason);
        }
        echo_udp_flush_drops(udp, false);
}

static void handle_datagram(struct echo_udp *udp, struct msghdr *message, size_t length)
{
        struct sockaddr_storage dst;
        const struct sockaddr *src = message->msg_name;
        bool have_dst = destination_of(message, &dst);
        enum udpguard_verdict verdict;
        enum ratelimit_verdict limited;
        ssize_t sent;

        udp->stats->received++;
        if (message->msg_flags & MSG_TRUNC) {
                note_drop(udp, src, "datagram too long");
                udp->stats->dropped_guard++;
                return;
        }
        verdict = udpguard_check(udp->guard, src, have_dst ? (struct sockaddr *)&dst : NULL);
        if (verdict != UDPGUARD_OK) {
                udp->stats->dropped_guard++;
                note_drop(udp, src, udpguard_reason(verdict));
                return;
        }
        limited = ratelimit_check(udp->limit, src, ev_now(udp->loop));
        if (limited != RATELIMIT_PASS) {
                udp->stats->dropped_rate++;
                note_drop(udp, src,
                          limited == RATELIMIT_GLOBAL ? "global rate limit" : "rate limit");
                return;
        }
        prepare_reply_control(message);
        message->msg_iov->iov_len = length;
        message->msg_flags = 0;
        do
                sent = sendmsg(udp->fd, message, MSG_DONTWAIT | MSG_NOSIGNAL);
        while (sent < 0 && errno == EINTR);
        if (sent < 0) {
                /* A full send queue drops the echo, as the network could have. */
                udp->stats->send_errors++;
                if (log_enabled(LOG_DEBUG))
                        log_debug("udp: cannot answer: %s", strerror(errno));
                return;
        }
        udp->stats->answered++;
        if (log_enabled(LOG_DEBUG)) {
                char peer[ADDR_TEXT_MAX];

                addr_format(src, peer, sizeof(peer));
                log_debug("udp: echoed %zu bytes to %s", length, peer);
        }
}

static void on_readable(struct ev_loop *loop, ev_io *watcher, int revents)
{
        static char data[UDP_DATAGRAM_MAX];
        struct echo_udp *udp = watcher->data;

        (void)loop;
        (void)revents;
        for (int i = 0; i < UDP_BATCH; i++) {
                union {
                        char buffer[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
                                    CMSG_SPACE(sizeof(struct in_pktinfo))];
                        struct cmsghdr align;
                } control;
                struct sockaddr_storage src;
                struct iovec iov = {data, sizeof(data)};
                struct msghdr message = {
                    .msg_name = &src,
                    .msg_namelen = sizeof(src),
                    .msg_iov = &iov,
                    .msg_iovlen = 1,
                    .msg_control = control.buffer,
                    .msg_controllen = sizeof(control.buffer),
                };
                ssize_t n = recvmsg(udp->fd, &message, MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        /* EAGAIN ends the batch; ICMP errors queued on the socket too. */
                        return;
                }
                handle_datagram(udp, &message, (size_t)n);
        }
}

int echo_udp_start(struct echo_udp *udp, struct ev_loop *loop, int fd, const struct udpguard *guard,
                   struct ratelimit *limit, struct echo_udp_stats *stats)
{
        struct sockaddr_storage local;
        socklen_t length = sizeof(local);
        int r;

        memset(udp, 0, sizeof(*udp));
        r = enable_pktinfo(fd);
        if (r < 0)
                return r;
        if (getsockname(fd, (struct sockaddr *)&local, &length) == 0)
                addr_format((struct sockaddr *)&local, udp->local, sizeof(udp->local));
        udp->loop = loop;
        udp->fd = fd;
        udp->guard = guard;
        udp->limit = limit;
        udp->stats = stats;
        udp->last_drop_log = -UDP_DROP_LOG_INTERVAL;
        ev_io_init(&udp->read_watcher, on_readable, fd, EV_READ);
        udp->read_watcher.data = udp;
        ev_io_start(loop, &udp->read_watcher);
        return 0;
}

void echo_udp_stop(struct echo_udp *udp)
{
        if (!udp->loop)
                return;
        ev_io_stop(udp->loop, &udp->read_watcher);
        echo_udp_flush_drops(udp, true);
}

void echo_udp_pause(struct echo_udp *udp, bool paused)
{
        if (!udp->loop)
                return;
        if (paused)
                ev_io_stop(udp->loop, &udp->read_watcher);
        else
                ev_io_start(udp->loop, &udp->read_watcher);
}
