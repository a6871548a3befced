#include "scan.h"
#include "scan_internal.h"

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
        if (state == SCAN_OPEN && s->options.on_open)
                s->options.on_open(s->options.data, index / s->nports, s->ports[index % s->nports]);
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

/*
 * Resources ran out for an attempt already counted: put the port back and
 * wait for attempts in flight to free some, or fail if none are in flight.
 */
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
        ev_timer_stop(s->loop, &s->rate_timer);
        for (int i = 0; i < 2; i++) {
                if (s->spare[i] >= 0)
                        close(s->spare[i]);
                s->spare[i] = -1;
        }
}

/* Whether --max-rate holds the next attempt back for now. */
static bool rate_limited(const struct scan *s)
{
        return s->options.max_rate > 0 && s->next_start > ev_now(s->loop);
}

/*
 * Take the right to start one attempt under --max-rate. Start times are
 * spaced 1/rate apart; after a pause (all slots busy, a late timer) at most
 * 10 ms (or one interval) of missed starts is made up, so no window of the
 * scan goes faster than the rate by more than that burst.
 */
static bool rate_take(struct scan *s)
{
        ev_tstamp now = ev_now(s->loop), interval, credit;

        if (s->options.max_rate <= 0)
                return true;
        if (s->next_start > now)
                return false;
        interval = 1.0 / s->options.max_rate;
        credit = interval > 0.01 ? interval : 0.01;
        if (s->next_start < now - credit)
                s->next_start = now - credit;
        s->next_start += interval;
        return true;
}

static void on_rate_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)loop;
        (void)revents;
        fill(w->data, FILL_BATCH);
}

/* Start or stop the idle watcher that launches attempts, and notice the end. */
static void schedule(struct scan *s)
{
        bool work = s->retry_count > 0 || s->cursor < s->total;

        if (s->error) {
                stop(s);
                return;
        }
        if (work && !s->stalled && s->inflight < s->limit && rate_limited(s)) {
                ev_idle_stop(s->loop, &s->idle);
                if (!ev_is_active(&s->rate_timer)) {
                        ev_timer_set(&s->rate_timer, s->next_start - ev_now(s->loop), 0.);
                        ev_timer_start(s->loop, &s->rate_timer);
                }
        } else if (work && !s->stalled && s->inflight < s->limit) {
                ev_idle_start(s->loop, &s->idle);
        } else {
                ev_idle_stop(s->loop, &s->idle);
        }
        if (!work && s->inflight == 0)
                stop(s);
        else
                arm_timer(s);
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
                                scan__submit(s);
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
        scan__submit(s);
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

static void take_slot(struct scan *s, struct slot *slot, uint32_t index)
{
        s->free_slots = slot->next;
        slot->index = index;
        slot->deadline = ev_now(s->loop) + s->options.timeout;
        s->states[index] |= IN_FLIGHT;
        queue_link(s, slot);
        s->inflight++;
}

static void fill(struct scan *s, unsigned budget)
{
        uint32_t index;

        while (budget-- > 0 && !s->error && !s->stalled && s->inflight < s->limit &&
               (s->retry_count > 0 || s->cursor < s->total) && rate_take(s) &&
               next_index(s, &index)) {
                if (s->ring)
                        scan__launch_ring(s, index);
                else
                        scan__launch(s, index);
        }
        if (s->ring && s->ring_queued) {
                /* Loopback answers arrive while the submit call runs: collect them now. */
                scan__submit(s);
                if (s->ring)
                        scan__reap(s);
        }
        schedule(s);
}

/* What scan_connect.c reports back to; it knows the bookkeeping only through this table. */
static const struct scan_connect_ops bookkeeping = {
    .target_sockaddr = target_sockaddr,
    .timed_out = timed_out,
    .out_of_resources = out_of_resources,
    .conclude = conclude,
    .take_slot = take_slot,
    .release_slot = release_slot,
    .fill = fill,
};

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
        s->ops = &bookkeeping;
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
        scan__setup_ring(s);
        s->limit = s->nslots;
        s->states = calloc(total ? total : 1, 1);
        s->slots = calloc(s->nslots, sizeof(*s->slots));
        s->retry = calloc(s->nslots, sizeof(*s->retry));
        if (!s->states || !s->slots || !s->retry) {
                scan_free(s);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < s->nslots; i++) {
                scan__init_slot(&s->slots[i]);
                s->slots[i].scan = s;
                s->slots[i].fd = -1;
                s->slots[i].next = i + 1 < s->nslots ? &s->slots[i + 1] : NULL;
        }
        s->free_slots = &s->slots[0];
        ev_timer_init(&s->timer, on_timeout, 0., 0.);
        s->timer.data = s;
        ev_idle_init(&s->idle, on_idle);
        s->idle.data = s;
        ev_timer_init(&s->rate_timer, on_rate_timer, 0., 0.);
        s->rate_timer.data = s;
        *out = s;
        return 0;
}

void scan_start(struct scan *scan)
{
        scan->next_start = ev_now(scan->loop);
        schedule(scan);
}

void scan_interrupt(struct scan *scan)
{
        stop(scan);
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
