/*
 * Starting and finishing connect attempts: with plain connect() through
 * libev, or in batches through io_uring. The bookkeeping is in scan.c.
 */
#include "scan_internal.h"

#include "probe.h"
#include "uring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Without io_uring: the socket of a slot became writable (connected or failed). */
static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
        struct slot *slot = (struct slot *)w;
        struct scan *s = slot->scan;
        int fd = slot->fd, error = 0;
        socklen_t len = sizeof(error);

        (void)loop;
        (void)revents;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
                error = errno;
        /*
         * SO_ERROR is 0 for a connect still under way too, so make sure of
         * success (rare: open ports) before calling it open.
         */
        if (error == 0 && connect(fd, (struct sockaddr *)&slot->dest, slot->dest_len) < 0 &&
            errno != EISCONN)
                error = errno;
        if (error == EINPROGRESS || error == EALREADY)
                return;
        s->ops->release_slot(s, slot);
        slot->fd = -1;
        if (s->ops->conclude(s, slot->index, fd, -error, &slot->dest, slot->dest_len))
                close(fd);
        s->ops->fill(s, 2);
}

/* With io_uring: a connect finished, or was cancelled because it timed out. */
static void on_ring_done(void *context, uint64_t tag, int result)
{
        struct scan *s = context;
        struct slot *slot = &s->slots[tag];
        bool expired = slot->cancelled && result == -ECANCELED;
        int fd = slot->fd;

        if (!expired && result == 0) {
                /*
                 * io_uring can report a connect done when an ICMP error only
                 * set the socket's soft error and the handshake goes on.
                 * Believe a success only from a socket that has a peer.
                 */
                result = probe_connected(fd);
                if (result == -EINPROGRESS) {
                        /* Still connecting: wait for it through the event loop. */
                        ev_io_set(&slot->io, fd, EV_WRITE);
                        ev_io_start(s->loop, &slot->io);
                        return;
                }
        }
        s->ops->release_slot(s, slot);
        slot->fd = -1;
        if (expired) {
                close(fd);
                s->ops->timed_out(s, slot->index);
                return;
        }
        if (s->ops->conclude(s, slot->index, fd, result, &slot->dest, slot->dest_len)) {
                if (slot->bound || probe_bind_any(fd) == 0) {
                        slot->fd = fd;
                        slot->bound = true;
                        return;
                }
                close(fd);
        }
        slot->bound = false;
}

static void on_ring_event(struct ev_loop *loop, ev_io *w, int revents)
{
        struct scan *s = w->data;

        (void)loop;
        (void)revents;
        scan__reap(s);
        s->ops->fill(s, FILL_BATCH);
}

void scan__submit(struct scan *s)
{
        int r;

        if (!s->ring || !s->ring_queued)
                return;
        s->ring_queued = false;
        r = uring_submit(s->ring);
        if (r < 0 && !s->error)
                s->error = r;
}

/* Give slot a socket of the family of its destination. Returns 0 or -errno. */
static int slot_socket(struct slot *slot)
{
        int family = slot->dest.ss_family;

        if (slot->fd >= 0 && slot->family == family)
                return 0;
        if (slot->fd >= 0)
                close(slot->fd);
        slot->bound = false;
        slot->family = family;
        slot->fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        return slot->fd < 0 ? -errno : 0;
}

/* With io_uring: queue the connect; it is submitted with the rest of the batch. */
void scan__launch_ring(struct scan *s, uint32_t index)
{
        struct slot *slot = s->free_slots;
        uint64_t tag = (uint64_t)(slot - s->slots);
        int r;

        s->ops->target_sockaddr(s, index, &slot->dest, &slot->dest_len);
        /* Counted first, so that giving up for lack of resources can undo it. */
        s->states[index] += ATTEMPT_ONE;
        r = slot_socket(slot);
        if (r < 0) {
                s->ops->out_of_resources(s, index, r);
                return;
        }
        r = uring_connect(s->ring, slot->fd, (struct sockaddr *)&slot->dest, slot->dest_len, tag);
        if (r == -EBUSY) {
                scan__submit(s);
                r = uring_connect(s->ring, slot->fd, (struct sockaddr *)&slot->dest, slot->dest_len,
                                  tag);
        }
        if (r < 0) {
                s->error = r;
                return;
        }
        s->ring_queued = true;
        s->ops->take_slot(s, slot, index);
}

/* Without io_uring: connect now; the attempt ends at once or takes a slot. */
void scan__launch(struct scan *s, uint32_t index)
{
        struct slot *slot = s->free_slots;
        struct sockaddr_storage *dest = &slot->dest;
        socklen_t len;
        int *spare, fd, r;
        bool bound;

        s->ops->target_sockaddr(s, index, dest, &len);
        slot->dest_len = len;
        spare = &s->spare[dest->ss_family == AF_INET6];
        fd = *spare;
        *spare = -1;
        bound = fd >= 0;
        /* Counted first, so that giving up for lack of resources can undo it. */
        s->states[index] += ATTEMPT_ONE;
        if (fd < 0)
                fd = socket(dest->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                s->ops->out_of_resources(s, index, -errno);
                return;
        }
        r = connect(fd, (struct sockaddr *)dest, len);
        /*
         * Ask again at once: on loopback and local addresses the kernel has
         * usually finished the handshake (or taken the reset) before the
         * first call returns, and the second call reports the outcome without
         * a trip through the event loop. Elsewhere it answers EALREADY.
         */
        if (r < 0 && errno == EINPROGRESS)
                r = connect(fd, (struct sockaddr *)dest, len);
        if (r == 0 || errno == EISCONN || (errno != EALREADY && errno != EINPROGRESS)) {
                r = r == 0 || errno == EISCONN ? 0 : -errno;
                if (s->ops->conclude(s, index, fd, r, dest, len)) {
                        /* Keep it bound to a port of its own: no port search per connect. */
                        if (*spare < 0 && (bound || probe_bind_any(fd) == 0))
                                *spare = fd;
                        else
                                close(fd);
                }
                return;
        }
        slot->fd = fd;
        ev_io_set(&slot->io, fd, EV_WRITE);
        ev_io_start(s->loop, &slot->io);
        s->ops->take_slot(s, slot, index);
}

/* Use io_uring unless told not to or unavailable; plain connect() then. */
void scan__setup_ring(struct scan *s)
{
        if (s->options.no_uring || uring_new(&s->ring, URING_ENTRIES) < 0) {
                s->ring = NULL;
                return;
        }
        if (s->nslots > URING_MAX_INFLIGHT)
                s->nslots = URING_MAX_INFLIGHT;
        ev_io_init(&s->ring_watcher, on_ring_event, uring_event_fd(s->ring), EV_READ);
        s->ring_watcher.data = s;
        ev_io_start(s->loop, &s->ring_watcher);
}

void scan__reap(struct scan *s)
{
        uring_reap(s->ring, on_ring_done, s);
}

void scan__init_slot(struct slot *slot)
{
        ev_io_init(&slot->io, on_writable, -1, EV_WRITE);
}
