#include "scan.h"

#include "addr.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

/* A connect in flight: its watcher, its place in the timeout queue. */
struct slot {
        ev_io io;
        struct scan *scan;
        struct slot *prev, *next;
        ev_tstamp deadline;
        uint32_t index;
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
        /* A socket whose connect was refused, kept to connect again (IPv4, IPv6). */
        int spare[2];
        int error;
};

static void fill(struct scan *s, unsigned budget);

/* Whether the socket of an ended attempt may connect again, and if it is bound. */
enum reuse {
        REUSE_NO,
        REUSE_UNBOUND,
        REUSE_BOUND,
};

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

/* Whether the kernel connected the socket to itself (source == destination). */
static bool is_self_connect(int fd, const struct sockaddr_storage *dest, socklen_t len)
{
        struct sockaddr_storage local;
        socklen_t local_len = sizeof(local);

        if (getsockname(fd, (struct sockaddr *)&local, &local_len) < 0)
                return false;
        return local_len == len && memcmp(&local, dest, len) == 0;
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

/* Close a socket that may have connected, with a reset and no TIME_WAIT. */
static void close_abortive(int fd)
{
        struct linger linger = {.l_onoff = 1, .l_linger = 0};

        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
        close(fd);
}

static bool is_backpressure(int error)
{
        return error == -EMFILE || error == -ENFILE || error == -ENOBUFS || error == -ENOMEM ||
               error == -EADDRNOTAVAIL || error == -EAGAIN;
}

static bool is_filtered(int error)
{
        switch (error) {
        case -ETIMEDOUT:
        case -EHOSTUNREACH:
        case -ENETUNREACH:
        case -EHOSTDOWN:
        case -ENETDOWN:
        case -ENONET:
        case -EACCES:
        case -EPERM:
        case -EPROTO:
                return true;
        default:
                return false;
        }
}

/*
 * Bind a socket about to be reused to a port of its own, once: a bound socket
 * connects without searching for a free ephemeral port each time, and keeps
 * its port when a connect fails. Returns whether fd can be kept.
 */
static bool keep_spare(int fd, bool bound)
{
        struct sockaddr_storage any;
        socklen_t len = sizeof(any);
        int family;

        if (bound)
                return true;
        if (getsockname(fd, (struct sockaddr *)&any, &len) < 0)
                return false;
        family = any.ss_family;
        memset(&any, 0, sizeof(any));
        any.ss_family = (sa_family_t)family;
        len = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        return bind(fd, (struct sockaddr *)&any, len) == 0;
}

/*
 * Record how an attempt ended. result is 0 (connected) or -errno. The socket
 * is closed, or kept as the spare when reusable and its connect was refused:
 * Linux lets a TCP socket whose connect failed connect again, which saves a
 * socket() and a close() for each closed port.
 */
static void conclude(struct scan *s, uint32_t index, int fd, int result, enum reuse reuse)
{
        struct sockaddr_storage dest;
        socklen_t len;

        if (result == 0) {
                target_sockaddr(s, index, &dest, &len);
                /*
                 * Scanning our own address, the kernel may pick the very port
                 * being scanned as the source port and connect the socket to
                 * itself (TCP simultaneous open). Nobody listens there: try
                 * again with another source port.
                 */
                if (is_self_connect(fd, &dest, len))
                        requeue(s, index, true);
                else
                        decide(s, index, SCAN_OPEN);
                close_abortive(fd);
                return;
        }
        if (result == -ECONNREFUSED) {
                int *spare = &s->spare[s->targets[index / s->nports].sa.ss_family == AF_INET6];

                decide(s, index, SCAN_CLOSED);
                if (reuse != REUSE_NO && *spare < 0 && keep_spare(fd, reuse == REUSE_BOUND))
                        *spare = fd;
                else
                        close(fd);
                return;
        }
        close(fd);
        if (is_filtered(result)) {
                decide(s, index, SCAN_FILTERED);
                return;
        }
        if (is_backpressure(result) && s->inflight > 0) {
                requeue(s, index, true);
                s->stalled = true;
                return;
        }
        s->error = result;
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
}

static void queue_unlink(struct scan *s, struct slot *slot)
{
        if (slot->prev)
                slot->prev->next = slot->next;
        else
                s->oldest = slot->next;
        if (slot->next)
                slot->next->prev = slot->prev;
        else
                s->newest = slot->prev;
}

static void release_slot(struct scan *s, struct slot *slot)
{
        ev_io_stop(s->loop, &slot->io);
        queue_unlink(s, slot);
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
        while (s->oldest) {
                struct slot *slot = s->oldest;
                int fd = slot->io.fd;

                release_slot(s, slot);
                close(fd);
        }
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

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
        struct slot *slot = (struct slot *)w;
        struct scan *s = slot->scan;
        int fd = w->fd, error = 0;
        socklen_t len = sizeof(error);

        (void)loop;
        (void)revents;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
                error = errno;
        if (error == 0) {
                struct sockaddr_storage dest;
                socklen_t dest_len;

                /*
                 * SO_ERROR is 0 for a connect still under way too, so make
                 * sure of success (rare: open ports) before calling it open.
                 */
                target_sockaddr(s, slot->index, &dest, &dest_len);
                if (connect(fd, (struct sockaddr *)&dest, dest_len) < 0 && errno != EISCONN)
                        error = errno;
        }
        if (error == EINPROGRESS || error == EALREADY)
                return;
        s->states[slot->index] &= (uint8_t)~IN_FLIGHT;
        release_slot(s, slot);
        conclude(s, slot->index, fd, -error, REUSE_NO);
        fill(s, 2);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct scan *s = w->data;
        /* Expire what is due within a millisecond, rather than waking for each. */
        ev_tstamp now = ev_now(loop) + 1e-3;

        (void)revents;
        while (s->oldest && s->oldest->deadline <= now) {
                struct slot *slot = s->oldest;
                uint32_t index = slot->index;
                int fd = slot->io.fd;

                release_slot(s, slot);
                close(fd);
                s->states[index] &= (uint8_t)~IN_FLIGHT;
                if (attempts(s->states[index]) <= s->options.retries)
                        requeue(s, index, false);
                else
                        decide(s, index, SCAN_FILTERED);
        }
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

/* Start an attempt on port index; it ends at once or takes a slot. */
static void launch(struct scan *s, uint32_t index)
{
        struct sockaddr_storage dest;
        struct slot *slot;
        socklen_t len;
        enum reuse reuse;
        int *spare, fd, r;

        target_sockaddr(s, index, &dest, &len);
        spare = &s->spare[dest.ss_family == AF_INET6];
        fd = *spare;
        *spare = -1;
        reuse = fd >= 0 ? REUSE_BOUND : REUSE_UNBOUND;
        if (fd < 0)
                fd = socket(dest.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                r = -errno;
                if (r == -EMFILE || r == -ENFILE) {
                        /* The open-file limit is the concurrency: settle below it. */
                        s->limit = s->inflight > 0 ? s->inflight : 1;
                }
                if (is_backpressure(r) && s->inflight > 0) {
                        push_retry(s, index);
                        s->stalled = true;
                } else {
                        s->error = r;
                }
                return;
        }
        s->states[index] += ATTEMPT_ONE;
        r = connect(fd, (struct sockaddr *)&dest, len);
        /*
         * Ask again at once: on loopback and local addresses the kernel has
         * usually finished the handshake (or taken the reset) before the
         * first call returns, and the second call reports the outcome without
         * a trip through the event loop. Elsewhere it answers EALREADY.
         */
        if (r < 0 && errno == EINPROGRESS)
                r = connect(fd, (struct sockaddr *)&dest, len);
        if (r == 0 || errno == EISCONN) {
                conclude(s, index, fd, 0, reuse);
                return;
        }
        if (errno != EALREADY && errno != EINPROGRESS) {
                conclude(s, index, fd, -errno, reuse);
                return;
        }
        slot = s->free_slots;
        s->free_slots = slot->next;
        slot->index = index;
        slot->deadline = ev_now(s->loop) + s->options.timeout;
        s->states[index] |= IN_FLIGHT;
        ev_io_set(&slot->io, fd, EV_WRITE);
        ev_io_start(s->loop, &slot->io);
        queue_link(s, slot);
        s->inflight++;
}

static void fill(struct scan *s, unsigned budget)
{
        uint32_t index;

        while (budget-- > 0 && !s->error && !s->stalled && s->inflight < s->limit &&
               next_index(s, &index))
                launch(s, index);
        schedule(s);
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
        s->limit = s->nslots;
        s->spare[0] = s->spare[1] = -1;
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
        free(scan->states);
        free(scan->slots);
        free(scan->retry);
        free(scan);
}

int scan_fd_budget(unsigned *budget)
{
        struct rlimit limit;
        rlim_t soft;

        if (getrlimit(RLIMIT_NOFILE, &limit) < 0)
                return -errno;
        if (limit.rlim_cur < limit.rlim_max) {
                struct rlimit raised = limit;

                /* An unlimited hard limit is not a number setrlimit() takes for files. */
                if (raised.rlim_max == RLIM_INFINITY)
                        raised.rlim_cur = 1u << 20;
                else
                        raised.rlim_cur = raised.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
                        limit = raised;
        }
        soft = limit.rlim_cur;
        if (soft > (1u << 20))
                soft = 1u << 20;
        *budget = soft > 2 * SCAN_FD_HEADROOM ? (unsigned)(soft - SCAN_FD_HEADROOM)
                                              : (unsigned)(soft / 2 ? soft / 2 : 1);
        return 0;
}
