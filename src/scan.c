#include "scan.h"

#include "addr.h"
#include "probe.h"
#include "uring.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * One state byte per (host, port): the enum scan_state in the low two bits,
 * the number of attempts started above it, and a flag while one is in flight.
 */
#define ATTEMPT_SHIFT 2
#define ATTEMPT_ONE   (1u << ATTEMPT_SHIFT)
#define ATTEMPT_MASK  0x7cu
#define IN_FLIGHT     0x80u

/* Attempts launched per turn of the loop, so timers and signals still run. */
#define FILL_BATCH 512

/* Submission queue entries; completions have twice as many, which caps what is in flight. */
#define URING_ENTRIES      8192
#define URING_MAX_INFLIGHT (2 * URING_ENTRIES)

/* A connect in flight: its socket, its watcher, its place in the timeout queue. */
struct slot {
        ev_io io; /* used without io_uring */
        struct scan *scan;
        struct slot *prev, *next;
        ev_tstamp deadline;
        uint32_t index;
        int fd;
        /* With io_uring a slot keeps its socket while connects are refused. */
        int family;
        bool bound;
        bool queued;    /* in the timeout queue */
        bool cancelled; /* timed out; waiting for the cancellation */
        struct sockaddr_storage dest;
        socklen_t dest_len;
};

struct scan {
        struct ev_loop *loop;
        const struct target *targets;
        size_t ntargets;
        const uint16_t *ports;
        size_t nports;
        struct scan_options options;
        uint8_t *states;
        uint32_t total;
        uint32_t cursor; /* next never-tried index */
        uint32_t done;
        /* Ports to try again (timed out, or put back under back-pressure). */
        uint32_t *retry;
        unsigned retry_head, retry_count;
        struct slot *slots, *free_slots;
        unsigned nslots, limit, inflight;
        /* In-flight slots, oldest first: with one timeout for all, the head expires first. */
        struct slot *oldest, *newest;
        bool stalled;
        ev_timer timer;
        ev_idle idle;
        /* Without io_uring: a refused socket kept to connect again (IPv4, IPv6). */
        int spare[2];
        /* With io_uring: the ring, its eventfd watcher, whether entries wait for submission. */
        struct uring *ring;
        ev_io ring_watcher;
        bool ring_queued;
        int error;
};

static void fill(struct scan *s, unsigned budget);

static unsigned attempts(uint8_t state)
{
        return (state & ATTEMPT_MASK) >> ATTEMPT_SHIFT;
}

static void target_sockaddr(const struct scan *s, uint32_t index, struct sockaddr_storage *ss,
                            socklen_t *len)
{
        const struct target *t = &s->targets[index / s->nports];

        memcpy(ss, &t->sa, sizeof(*ss));
        *len = t->len;
        addr_set_port((struct sockaddr *)ss, s->ports[index % s->nports]);
}

static void push_retry(struct scan *s, uint32_t index)
{
        s->retry[(s->retry_head + s->retry_count) % s->nslots] = index;
        s->retry_count++;
}

static void decide(struct scan *s, uint32_t index, enum scan_state state)
{
        s->states[index] = (uint8_t)((s->states[index] & ATTEMPT_MASK) | state);
        s->done++;
}

/* Put a port back to be tried again; undo_attempt when it was not really tried. */
static void requeue(struct scan *s, uint32_t index, bool undo_attempt)
{
        uint8_t state = s->states[index] & ATTEMPT_MASK;

        if (undo_attempt && state >= ATTEMPT_ONE)
                state -= ATTEMPT_ONE;
        s->states[index] = state;
        push_retry(s, index);
}

/* An attempt got no answer in time: retry it, or call the port filtered. */
static void timed_out(struct scan *s, uint32_t index)
{
        if (attempts(s->states[index]) <= s->options.retries)
                requeue(s, index, false);
        else
                decide(s, index, SCAN_FILTERED);
}

/* Resources ran out before a connect could start: wait, or fail if nothing can free them. */
static void out_of_resources(struct scan *s, uint32_t index, int error)
{
        /* The open-file limit is the concurrency: settle below it. */
        if (error == -EMFILE || error == -ENFILE)
                s->limit = s->inflight > 0 ? s->inflight : 1;
        if (probe_classify(error) == PROBE_BACKPRESSURE && s->inflight > 0) {
                requeue(s, index, true);
                s->stalled = true;
        } else {
                s->error = error;
        }
}

/*
 * Record how an attempt ended. result is 0 (connected) or -errno. Returns
 * true when the caller may keep fd to connect again: Linux lets a TCP socket
 * whose connect was refused connect again, which saves a socket() and a
 * close() for each closed port. Otherwise fd is closed.
 */
static bool conclude(struct scan *s, uint32_t index, int fd, int result,
                     const struct sockaddr_storage *dest, socklen_t len)
{
        if (result == 0 || probe_classify(result) == PROBE_OPEN) {
                /*
                 * Scanning our own address, the kernel may pick the very port
                 * being scanned as the source port and connect the socket to
                 * itself (TCP simultaneous open). Nobody listens there: try
                 * again with another source port.
                 */
                if (probe_is_self_connect(fd, dest, len))
                        requeue(s, index, true);
                else
                        decide(s, index, SCAN_OPEN);
                probe_close_abortive(fd);
                return false;
        }
        switch (probe_classify(result)) {
        case PROBE_CLOSED:
                decide(s, index, SCAN_CLOSED);
                return true;
        case PROBE_FILTERED:
                decide(s, index, SCAN_FILTERED);
                break;
        case PROBE_BACKPRESSURE:
                out_of_resources(s, index, result);
                break;
        default:
                s->error = result;
                break;
        }
        close(fd);
        return false;
}

static void queue_link(struct scan *s, struct slot *slot)
{
        slot->next = NULL;
        slot->prev = s->newest;
        if (s->newest)
                s->newest->next = slot;
        else
                s->oldest = slot;
        s->newest = slot;
        slot->queued = true;
}

static void queue_unlink(struct scan *s, struct slot *slot)
{
        if (!slot->queued)
                return;
        if (slot->prev)
                slot->prev->next = slot->next;
        else
                s->oldest = slot->next;
        if (slot->next)
                slot->next->prev = slot->prev;
        else
                s->newest = slot->prev;
        slot->queued = false;
}

/* The attempt of slot is over: back to the free list (its socket is the caller's). */
static void release_slot(struct scan *s, struct slot *slot)
{
        ev_io_stop(s->loop, &slot->io);
        queue_unlink(s, slot);
        s->states[slot->index] &= (uint8_t)~IN_FLIGHT;
        slot->cancelled = false;
        slot->next = s->free_slots;
        s->free_slots = slot;
        s->inflight--;
        s->stalled = false;
}

static void arm_timer(struct scan *s)
{
        if (!s->oldest || ev_is_active(&s->timer))
                return;
        ev_timer_set(&s->timer, s->oldest->deadline - ev_now(s->loop), 0.);
        ev_timer_start(s->loop, &s->timer);
}

static void stop(struct scan *s)
{
        /* Freeing the ring cancels its connects and waits for them. */
        if (s->ring) {
                ev_io_stop(s->loop, &s->ring_watcher);
                uring_free(s->ring);
                s->ring = NULL;
        }
        for (unsigned i = 0; i < s->nslots; i++) {
                if (s->slots[i].fd >= 0)
                        close(s->slots[i].fd);
                s->slots[i].fd = -1;
                ev_io_stop(s->loop, &s->slots[i].io);
        }
        s->oldest = s->newest = NULL;
        ev_idle_stop(s->loop, &s->idle);
        ev_timer_stop(s->loop, &s->timer);
        for (int i = 0; i < 2; i++) {
                if (s->spare[i] >= 0)
                        close(s->spare[i]);
                s->spare[i] = -1;
        }
}

/* Start or stop the idle watcher that launches attempts, and notice the end. */
static void schedule(struct scan *s)
{
        bool work = s->retry_count > 0 || s->cursor < s->total;

        if (s->error) {
                stop(s);
                return;
        }
        if (work && !s->stalled && s->inflight < s->limit)
                ev_idle_start(s->loop, &s->idle);
        else
                ev_idle_stop(s->loop, &s->idle);
        if (!work && s->inflight == 0)
                stop(s);
        else
                arm_timer(s);
}

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
        release_slot(s, slot);
        slot->fd = -1;
        if (conclude(s, slot->index, fd, -error, &slot->dest, slot->dest_len))
                close(fd);
        fill(s, 2);
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
        release_slot(s, slot);
        slot->fd = -1;
        if (expired) {
                close(fd);
                timed_out(s, slot->index);
                return;
        }
        if (conclude(s, slot->index, fd, result, &slot->dest, slot->dest_len)) {
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
        uring_reap(s->ring, on_ring_done, s);
        fill(s, FILL_BATCH);
}

static void submit(struct scan *s)
{
        int r;

        if (!s->ring || !s->ring_queued)
                return;
        s->ring_queued = false;
        r = uring_submit(s->ring);
        if (r < 0 && !s->error)
                s->error = r;
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct scan *s = w->data;
        /* Expire what is due within a millisecond, rather than waking for each. */
        ev_tstamp now = ev_now(loop) + 1e-3;

        (void)revents;
        while (s->oldest && s->oldest->deadline <= now) {
                struct slot *slot = s->oldest;
                int fd = slot->fd;

                if (s->ring && !ev_is_active(&slot->io)) {
                        /* The slot stays busy until the kernel confirms the cancellation. */
                        queue_unlink(s, slot);
                        slot->cancelled = true;
                        if (uring_cancel(s->ring, (uint64_t)(slot - s->slots)) == -EBUSY) {
                                submit(s);
                                (void)uring_cancel(s->ring, (uint64_t)(slot - s->slots));
                        }
                        s->ring_queued = true;
                        continue;
                }
                release_slot(s, slot);
                slot->fd = -1;
                close(fd);
                timed_out(s, slot->index);
        }
        submit(s);
        fill(s, FILL_BATCH);
}

static void on_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
        (void)loop;
        (void)revents;
        fill(w->data, FILL_BATCH);
}

static bool next_index(struct scan *s, uint32_t *index)
{
        if (s->retry_count > 0) {
                *index = s->retry[s->retry_head];
                s->retry_head = (s->retry_head + 1) % s->nslots;
                s->retry_count--;
                return true;
        }
        if (s->cursor < s->total) {
                *index = s->cursor++;
                return true;
        }
        return false;
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

static void take_slot(struct scan *s, struct slot *slot, uint32_t index)
{
        s->free_slots = slot->next;
        slot->index = index;
        slot->deadline = ev_now(s->loop) + s->options.timeout;
        s->states[index] |= IN_FLIGHT;
        queue_link(s, slot);
        s->inflight++;
}

/* With io_uring: queue the connect; it is submitted with the rest of the batch. */
static void launch_ring(struct scan *s, uint32_t index)
{
        struct slot *slot = s->free_slots;
        uint64_t tag = (uint64_t)(slot - s->slots);
        int r;

        target_sockaddr(s, index, &slot->dest, &slot->dest_len);
        r = slot_socket(slot);
        if (r < 0) {
                out_of_resources(s, index, r);
                return;
        }
        r = uring_connect(s->ring, slot->fd, (struct sockaddr *)&slot->dest, slot->dest_len, tag);
        if (r == -EBUSY) {
                submit(s);
                r = uring_connect(s->ring, slot->fd, (struct sockaddr *)&slot->dest, slot->dest_len,
                                  tag);
        }
        if (r < 0) {
                s->error = r;
                return;
        }
        s->ring_queued = true;
        s->states[index] += ATTEMPT_ONE;
        take_slot(s, slot, index);
}

/* Without io_uring: connect now; the attempt ends at once or takes a slot. */
static void launch(struct scan *s, uint32_t index)
{
        struct slot *slot = s->free_slots;
        struct sockaddr_storage *dest = &slot->dest;
        socklen_t len;
        int *spare, fd, r;
        bool bound;

        target_sockaddr(s, index, dest, &len);
        slot->dest_len = len;
        spare = &s->spare[dest->ss_family == AF_INET6];
        fd = *spare;
        *spare = -1;
        bound = fd >= 0;
        if (fd < 0)
                fd = socket(dest->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                out_of_resources(s, index, -errno);
                return;
        }
        s->states[index] += ATTEMPT_ONE;
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
                if (conclude(s, index, fd, r, dest, len)) {
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
        take_slot(s, slot, index);
}

static void fill(struct scan *s, unsigned budget)
{
        uint32_t index;

        while (budget-- > 0 && !s->error && !s->stalled && s->inflight < s->limit &&
               next_index(s, &index)) {
                if (s->ring)
                        launch_ring(s, index);
                else
                        launch(s, index);
        }
        if (s->ring && s->ring_queued) {
                /* Loopback answers arrive while the submit call runs: collect them now. */
                submit(s);
                if (s->ring)
                        uring_reap(s->ring, on_ring_done, s);
        }
        schedule(s);
}

/* Use io_uring unless told not to or unavailable; plain connect() then. */
static void setup_ring(struct scan *s)
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

int scan_new(struct scan **out, struct ev_loop *loop, const struct target *targets, size_t ntargets,
             const uint16_t *ports, size_t nports, const struct scan_options *options)
{
        struct scan *s;
        uint64_t total = (uint64_t)ntargets * nports;

        if (!out || !loop || !options || options->timeout <= 0 ||
            options->retries > SCAN_MAX_RETRIES)
                return -EINVAL;
        if (total > INT32_MAX)
                return -E2BIG;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->loop = loop;
        s->targets = targets;
        s->ntargets = ntargets;
        s->ports = ports;
        s->nports = nports;
        s->options = *options;
        s->total = (uint32_t)total;
        s->nslots = options->concurrency ? options->concurrency : 1;
        if (s->nslots > s->total && s->total > 0)
                s->nslots = s->total;
        s->spare[0] = s->spare[1] = -1;
        setup_ring(s);
        s->limit = s->nslots;
        s->states = calloc(total ? total : 1, 1);
        s->slots = calloc(s->nslots, sizeof(*s->slots));
        s->retry = calloc(s->nslots, sizeof(*s->retry));
        if (!s->states || !s->slots || !s->retry) {
                scan_free(s);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < s->nslots; i++) {
                ev_io_init(&s->slots[i].io, on_writable, -1, EV_WRITE);
                s->slots[i].scan = s;
                s->slots[i].fd = -1;
                s->slots[i].next = i + 1 < s->nslots ? &s->slots[i + 1] : NULL;
        }
        s->free_slots = &s->slots[0];
        ev_timer_init(&s->timer, on_timeout, 0., 0.);
        s->timer.data = s;
        ev_idle_init(&s->idle, on_idle);
        s->idle.data = s;
        *out = s;
        return 0;
}

void scan_start(struct scan *scan)
{
        schedule(scan);
}

int scan_error(const struct scan *scan)
{
        return scan->error;
}

bool scan_uses_uring(const struct scan *scan)
{
        return scan->ring != NULL;
}

void scan_progress(const struct scan *scan, uint64_t *done, uint64_t *total)
{
        *done = scan->done;
        *total = scan->total;
}

const uint8_t *scan_states(const struct scan *scan, size_t host)
{
        return scan->states + host * scan->nports;
}

void scan_free(struct scan *scan)
{
        if (!scan)
                return;
        if (scan->slots)
                stop(scan);
        else if (scan->ring) {
                ev_io_stop(scan->loop, &scan->ring_watcher);
                uring_free(scan->ring);
        }
        free(scan->states);
        free(scan->slots);
        free(scan->retry);
        free(scan);
}
