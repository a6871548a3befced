#include "bench.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "units.h"

/* One read takes at most this much; it bounds the worker's receive buffer. */
#define BENCH_READ_MAX (256u * 1024u)

struct bench_worker;

/*
 * A UDP message slot: one datagram in flight. Slot i sends the sequence
 * numbers i, i + pipeline, i + 2 * pipeline, ..., so an answer finds its slot
 * by seq % pipeline however many datagrams were lost or reordered before it.
 */
struct bench_slot {
        uint64_t seq;
        /* The number the slot sends next; every number below it was sent. */
        uint64_t next_seq;
        uint64_t sent_at;
        bool in_flight;
        /* Waiting for the socket to take it (send() said EAGAIN). */
        bool unsent;
};

struct bench_conn {
        ev_io read_watcher;
        ev_io write_watcher;
        struct bench_worker *worker;
        int fd;
        bool connected;
        bool closed;
        /* Where in the pattern this connection's stream starts. */
        uint64_t base;
        /* TCP: the stream position of bytes queued, written and checked. */
        uint64_t queued_pos;
        uint64_t send_pos;
        uint64_t recv_pos;
        /* Messages started and completed; started - completed <= pipeline. */
        uint64_t started;
        uint64_t completed;
        bool current_bad;
        /* Send time of each message in flight, indexed by message number % pipeline. */
        uint64_t *sent_at;
        /* UDP: one slot per message in flight. */
        struct bench_slot *slots;
};

struct bench_worker {
        struct ev_loop *loop;
        const struct bench_worker_config *config;
        const struct bench_options *opts;
        struct bench_stats *stats;
        struct bench_conn *conns;
        unsigned pending_connects;
        unsigned open;
        bool measuring;
        ev_timer timer;
        ev_timer loss_timer;
        ev_timer stop_timer;
        unsigned char *buffer;
        /* Open loop (--rate): this worker's share of the rate, the next request's number, */
        double rate;
        uint64_t next_request;
        /*
         * when measuring started, a timerfd (and its watcher) for the next
         * intended send, and a round-robin cursor. A timerfd, not an
         * ev_timer: epoll's timeout has millisecond steps, which would delay
         * every send by up to a millisecond and show in the latency.
         */
        uint64_t start;
        int rate_fd;
        ev_io rate_watcher;
        unsigned next_conn;
        /* Requests already added to config->requests_so_far; the progress line's timer. */
        uint64_t published;
        ev_timer progress_timer;
        bool progress_drawn;
};

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

unsigned char *bench_pattern_new(size_t message_size)
{
        size_t size = BENCH_PATTERN_PERIOD + message_size;
        unsigned char *pattern = malloc(size);
        uint32_t x = 2463534242u;

        if (!pattern)
                return NULL;
        /* xorshift32: cheap, and no byte value or short run dominates. */
        for (size_t i = 0; i < BENCH_PATTERN_PERIOD; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                pattern[i] = (unsigned char)(x >> 24);
        }
        /* The tail repeats the start, so any window of message_size bytes is contiguous. */
        for (size_t i = BENCH_PATTERN_PERIOD; i < size; i++)
                pattern[i] = pattern[i - BENCH_PATTERN_PERIOD];
        return pattern;
}

void bench_stats_init(struct bench_stats *stats)
{
        memset(stats, 0, sizeof(*stats));
        histogram_init(&stats->latency);
}

void bench_stats_merge(struct bench_stats *into, const struct bench_stats *from)
{
        into->requests += from->requests;
        into->bytes += from->bytes;
        into->mismatches += from->mismatches;
        into->errors += from->errors;
        into->lost += from->lost;
        into->connected += from->connected;
        if (from->elapsed_ns > into->elapsed_ns)
                into->elapsed_ns = from->elapsed_ns;
        histogram_merge(&into->latency, &from->latency);
        if (!into->first_error[0] && from->first_error[0])
                memcpy(into->first_error, from->first_error, sizeof(into->first_error));
}

static void conn_fail(struct bench_conn *conn, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Count a broken connection once, keep the first reason, and close it. */
static void conn_fail(struct bench_conn *conn, const char *format, ...)
{
        struct bench_worker *worker = conn->worker;
        va_list ap;

        if (conn->closed)
                return;
        worker->stats->errors++;
        if (!worker->stats->first_error[0]) {
                va_start(ap, format);
                vsnprintf(worker->stats->first_error, sizeof(worker->stats->first_error), format,
                          ap);
                va_end(ap);
        }
        ev_io_stop(worker->loop, &conn->read_watcher);
        ev_io_stop(worker->loop, &conn->write_watcher);
        close(conn->fd);
        conn->fd = -1;
        conn->closed = true;
        if (!conn->connected && worker->pending_connects > 0)
                worker->pending_connects--;
        worker->open--;
        if (worker->open == 0)
                ev_break(worker->loop, EVBREAK_ALL);
}

static const unsigned char *pattern_at(const struct bench_conn *conn, uint64_t pos)
{
        return conn->worker->config->pattern + (conn->base + pos) % BENCH_PATTERN_PERIOD;
}

static void tcp_flush(struct bench_conn *conn)
{
        size_t size = conn->worker->opts->message_size;

        while (conn->send_pos < conn->queued_pos) {
                uint64_t offset = (conn->base + conn->send_pos) % BENCH_PATTERN_PERIOD;
                /* The pattern holds PERIOD + size bytes; write what is contiguous. */
                uint64_t contiguous = BENCH_PATTERN_PERIOD + size - offset;
                uint64_t want = conn->queued_pos - conn->send_pos;
                ssize_t n;

                if (want > contiguous)
                        want = contiguous;
                n = send(conn->fd, pattern_at(conn, conn->send_pos), (size_t)want, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                break;
                        conn_fail(conn, "send: %s", strerror(errno));
                        return;
                }
                conn->send_pos += (uint64_t)n;
        }
        if (conn->send_pos < conn->queued_pos)
                ev_io_start(conn->worker->loop, &conn->write_watcher);
        else
                ev_io_stop(conn->worker->loop, &conn->write_watcher);
}

/* Start one message on conn whose latency counts from sent_at (now, or the intended time). */
static void tcp_start_one(struct bench_conn *conn, uint64_t sent_at)
{
        const struct bench_options *opts = conn->worker->opts;

        conn->sent_at[conn->started % opts->pipeline] = sent_at;
        conn->started++;
        conn->queued_pos += opts->message_size;
}

static void tcp_start_messages(struct bench_conn *conn, uint64_t now)
{
        while (conn->started - conn->completed < conn->worker->opts->pipeline)
                tcp_start_one(conn, now);
}

static uint64_t intended_time(const struct bench_worker *worker, uint64_t request)
{
        return worker->start + (uint64_t)((double)request * 1e9 / worker->rate);
}

/*
 * Open loop: start every request whose intended send time has come, each on
 * the next connection with room in its pipeline (wrk2's model: with
 * --pipeline 1, one request in flight per connection). A request that finds
 * no room waits, and its latency still counts from its intended time, so a
 * server that stalls shows in the latency instead of slowing the load down
 * (coordinated omission). Then the timer is set for the next intended time.
 */
static void open_loop_dispatch(struct bench_worker *worker, uint64_t now)
{
        unsigned n = worker->config->connections, pipeline = worker->opts->pipeline;

        while (worker->measuring) {
                uint64_t intended = intended_time(worker, worker->next_request);
                struct bench_conn *conn = NULL;

                if (intended > now) {
                        struct itimerspec when = {
                            .it_value = {.tv_sec = (time_t)(intended / 1000000000u),
                                         .tv_nsec = (long)(intended % 1000000000u)}};

                        timerfd_settime(worker->rate_fd, TFD_TIMER_ABSTIME, &when, NULL);
                        return;
                }
                for (unsigned i = 0; i < n && !conn; i++) {
                        struct bench_conn *c = &worker->conns[(worker->next_conn + i) % n];

                        if (c->connected && !c->closed && c->started - c->completed < pipeline) {
                                conn = c;
                                worker->next_conn = (worker->next_conn + i + 1) % n;
                        }
                }
                if (!conn)
                        return; /* every pipeline is full: the next answer dispatches again */
                /* When behind, fill this connection's pipeline with what is due: one send for all.
                 */
                do {
                        tcp_start_one(conn, intended);
                        worker->next_request++;
                        intended = intended_time(worker, worker->next_request);
                } while (intended <= now && conn->started - conn->completed < pipeline);
                tcp_flush(conn);
        }
}

static void on_rate_timer(struct ev_loop *loop, ev_io *w, int revents)
{
        struct bench_worker *worker = w->data;
        uint64_t expirations;

        (void)loop;
        (void)revents;
        if (read(worker->rate_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
                return;
        open_loop_dispatch(worker, now_ns());
}

/* Check received bytes against the pattern, message by message. */
static void tcp_check(struct bench_conn *conn, const unsigned char *data, size_t len, uint64_t now)
{
        struct bench_worker *worker = conn->worker;
        size_t size = worker->opts->message_size;

        while (len > 0) {
                size_t left_in_message = size - (size_t)(conn->recv_pos % size);
                size_t n = len < left_in_message ? len : left_in_message;

                /* A window of up to size bytes is contiguous in the pattern. */
                if (memcmp(data, pattern_at(conn, conn->recv_pos), n) != 0)
                        conn->current_bad = true;
                conn->recv_pos += n;
                data += n;
                len -= n;
                if (conn->recv_pos % size != 0)
                        continue;
                if (worker->measuring) {
                        if (conn->current_bad) {
                                worker->stats->mismatches++;
                        } else {
                                uint64_t sent =
                                    conn->sent_at[conn->completed % worker->opts->pipeline];

                                worker->stats->requests++;
                                worker->stats->bytes += size;
                                histogram_record(&worker->stats->latency, now - sent);
                        }
                }
                conn->current_bad = false;
                conn->completed++;
        }
}

static void on_tcp_read(struct ev_loop *loop, ev_io *w, int revents)
{
        struct bench_conn *conn = w->data;
        struct bench_worker *worker = conn->worker;
        uint64_t now;
        ssize_t n;

        (void)loop;
        (void)revents;
        n = recv(conn->fd, worker->buffer, BENCH_READ_MAX, 0);
        if (n < 0) {
                if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
                        conn_fail(conn, "recv: %s", strerror(errno));
                return;
        }
        if (n == 0) {
                conn_fail(conn, "connection closed by the server");
                return;
        }
        if (conn->recv_pos + (uint64_t)n > conn->send_pos) {
                /* More came back than was sent: no echo server does that. */
                worker->stats->mismatches++;
                conn_fail(conn, "the server sent %llu bytes more than it was sent",
                          (unsigned long long)(conn->recv_pos + (uint64_t)n - conn->send_pos));
                return;
        }
        now = now_ns();
        tcp_check(conn, worker->buffer, (size_t)n, now);
        if (worker->measuring && worker->rate > 0) {
                open_loop_dispatch(worker, now);
        } else if (worker->measuring) {
                tcp_start_messages(conn, now);
                tcp_flush(conn);
        }
}

static void on_tcp_write(struct ev_loop *loop, ev_io *w, int revents)
{
        (void)loop;
        (void)revents;
        tcp_flush(w->data);
}

static void udp_send_slot(struct bench_conn *conn, struct bench_slot *slot, uint64_t now)
{
        struct bench_worker *worker = conn->worker;
        size_t size = worker->opts->message_size;
        unsigned char *datagram = worker->buffer;
        ssize_t n;

        /* The sequence number first, then the pattern window it selects. */
        memcpy(datagram, &slot->seq, sizeof(slot->seq));
        memcpy(datagram + sizeof(slot->seq), pattern_at(conn, slot->seq * size),
               size - sizeof(slot->seq));
        slot->sent_at = now;
        slot->in_flight = true;
        n = send(conn->fd, datagram, size, MSG_NOSIGNAL);
        slot->unsent = false;
        if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == EINTR) {
                        slot->unsent = true;
                        ev_io_start(worker->loop, &conn->write_watcher);
                        return;
                }
                conn_fail(conn, "send: %s", strerror(errno));
        }
}

static void udp_start(struct bench_conn *conn, struct bench_slot *slot, uint64_t now)
{
        slot->seq = slot->next_seq;
        slot->next_seq += conn->worker->opts->pipeline;
        udp_send_slot(conn, slot, now);
}

/*
 * The slot waiting for the answer with this sequence number, or NULL for a
 * late answer (its datagram was already counted lost). *forged is set for a
 * number never sent: the header itself was changed on the way.
 */
static struct bench_slot *udp_slot_for(struct bench_conn *conn, uint64_t seq, bool *forged)
{
        struct bench_slot *slot = &conn->slots[seq % conn->worker->opts->pipeline];

        *forged = seq >= slot->next_seq;
        if (*forged || !slot->in_flight || slot->unsent || slot->seq != seq)
                return NULL;
        return slot;
}

static void on_udp_read(struct ev_loop *loop, ev_io *w, int revents)
{
        struct bench_conn *conn = w->data;
        struct bench_worker *worker = conn->worker;
        const struct bench_options *opts = worker->opts;
        size_t size = opts->message_size;
        unsigned char *data = worker->buffer;
        struct bench_slot *slot;
        uint64_t seq, now;
        bool forged;
        ssize_t n;

        (void)loop;
        (void)revents;
        n = recv(conn->fd, data, BENCH_READ_MAX, 0);
        if (n < 0) {
                if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
                        conn_fail(conn, "recv: %s", strerror(errno));
                return;
        }
        now = now_ns();
        if ((size_t)n < sizeof(seq)) {
                worker->stats->mismatches++;
                return;
        }
        memcpy(&seq, data, sizeof(seq));
        slot = udp_slot_for(conn, seq, &forged);
        if (forged || (!slot && (size_t)n != size)) {
                worker->stats->mismatches++;
                return;
        }
        if (!slot)
                return; /* A late answer to a datagram already counted as lost. */
        /* Answered, right or wrong: the datagram is no longer in flight, so never lost. */
        slot->in_flight = false;
        if (worker->measuring) {
                if ((size_t)n != size || memcmp(data + sizeof(seq), pattern_at(conn, seq * size),
                                                size - sizeof(seq)) != 0) {
                        worker->stats->mismatches++;
                } else {
                        worker->stats->requests++;
                        worker->stats->bytes += size;
                        histogram_record(&worker->stats->latency, now - slot->sent_at);
                }
                udp_start(conn, slot, now);
        }
}

static void on_udp_write(struct ev_loop *loop, ev_io *w, int revents)
{
        struct bench_conn *conn = w->data;
        uint64_t now = now_ns();

        (void)revents;
        ev_io_stop(loop, w);
        for (unsigned i = 0; i < conn->worker->opts->pipeline && !conn->closed; i++) {
                if (conn->slots[i].unsent)
                        udp_send_slot(conn, &conn->slots[i], now);
        }
}

/* Datagrams unanswered for longer than the timeout are lost: count them, send anew. */
static void on_loss_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct bench_worker *worker = w->data;
        const struct bench_options *opts = worker->opts;
        uint64_t now = now_ns();

        (void)loop;
        (void)revents;
        for (unsigned c = 0; c < worker->config->connections; c++) {
                struct bench_conn *conn = &worker->conns[c];

                for (unsigned i = 0; i < opts->pipeline && !conn->closed; i++) {
                        struct bench_slot *slot = &conn->slots[i];

                        if (slot->in_flight && !slot->unsent &&
                            now - slot->sent_at > opts->timeout_ns) {
                                worker->stats->lost++;
                                udp_start(conn, slot, now);
                        }
                }
        }
}

static void connect_done(struct bench_conn *conn)
{
        struct bench_worker *worker = conn->worker;

        conn->connected = true;
        worker->pending_connects--;
        ev_io_stop(worker->loop, &conn->write_watcher);
        if (worker->opts->udp) {
                ev_io_init(&conn->read_watcher, on_udp_read, conn->fd, EV_READ);
                ev_io_init(&conn->write_watcher, on_udp_write, conn->fd, EV_WRITE);
        } else {
                ev_io_init(&conn->read_watcher, on_tcp_read, conn->fd, EV_READ);
                ev_io_init(&conn->write_watcher, on_tcp_write, conn->fd, EV_WRITE);
        }
        ev_io_start(worker->loop, &conn->read_watcher);
        if (worker->pending_connects == 0)
                ev_break(worker->loop, EVBREAK_ALL);
}

static void on_connect(struct ev_loop *loop, ev_io *w, int revents)
{
        struct bench_conn *conn = w->data;
        int r = net_connect_result(conn->fd);

        (void)loop;
        (void)revents;
        if (r < 0) {
                conn_fail(conn, "connect: %s", strerror(-r));
                return;
        }
        connect_done(conn);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)w;
        (void)revents;
        ev_break(loop, EVBREAK_ALL);
}

/* Look at the stop flag now and then: cheaper and simpler than waking loops across threads. */
static void on_stop_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct bench_worker *worker = w->data;

        (void)revents;
        if (worker->config->requests_so_far && worker->measuring) {
                atomic_fetch_add(worker->config->requests_so_far,
                                 worker->stats->requests - worker->published);
                worker->published = worker->stats->requests;
        }
        if (worker->config->stop && atomic_load(worker->config->stop))
                ev_break(loop, EVBREAK_ALL);
}

/* Once a second on a terminal: elapsed time, the rate of every worker, p99 of this one. */
static void on_progress_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct bench_worker *worker = w->data;
        double elapsed = (double)(now_ns() - worker->start) / 1e9;
        unsigned long long done =
            worker->config->requests_so_far ? atomic_load(worker->config->requests_so_far) : 0;
        char p99[32];

        (void)loop;
        (void)revents;
        units_format_duration(histogram_percentile(&worker->stats->latency, 99.0), p99,
                              sizeof(p99));
        fprintf(stderr, "\r%5.0fs  %10.0f req/s  p99 %s\033[K", elapsed,
                elapsed > 0 ? (double)done / elapsed : 0.0, p99);
        worker->progress_drawn = true;
}

static int conn_open(struct bench_worker *worker, struct bench_conn *conn, unsigned number)
{
        const struct bench_worker_config *config = worker->config;
        int fd, r;

        conn->worker = worker;
        conn->fd = -1;
        /* Each connection reads the pattern from its own place. */
        conn->base = ((uint64_t)number * 4099u) % BENCH_PATTERN_PERIOD;
        r = net_connect_start(config->addr, config->addr_len,
                              worker->opts->udp ? SOCK_DGRAM : SOCK_STREAM, &fd);
        if (fd < 0)
                return r;
        conn->fd = fd;
        worker->open++;
        worker->pending_connects++;
        ev_io_init(&conn->write_watcher, on_connect, fd, EV_WRITE);
        conn->read_watcher.data = conn;
        conn->write_watcher.data = conn;
        if (r == 0)
                connect_done(conn);
        else if (r == -EINPROGRESS)
                ev_io_start(worker->loop, &conn->write_watcher);
        else
                conn_fail(conn, "connect: %s", strerror(-r));
        return 0;
}

static void worker_fini(struct bench_worker *worker)
{
        if (worker->conns) {
                for (unsigned i = 0; i < worker->config->connections; i++) {
                        struct bench_conn *conn = &worker->conns[i];

                        if (conn->fd >= 0) {
                                ev_io_stop(worker->loop, &conn->read_watcher);
                                ev_io_stop(worker->loop, &conn->write_watcher);
                                close(conn->fd);
                        }
                        free(conn->sent_at);
                        free(conn->slots);
                }
        }
        if (worker->rate_fd >= 0) {
                ev_io_stop(worker->loop, &worker->rate_watcher);
                close(worker->rate_fd);
        }
        free(worker->conns);
        free(worker->buffer);
        if (worker->loop)
                ev_loop_destroy(worker->loop);
}

/* Start the first pipeline of messages on every connection that is up. */
static void worker_start_traffic(struct bench_worker *worker, uint64_t now)
{
        for (unsigned i = 0; i < worker->config->connections; i++) {
                struct bench_conn *conn = &worker->conns[i];

                if (conn->closed || !conn->connected)
                        continue;
                worker->stats->connected++;
                if (worker->opts->udp) {
                        for (unsigned s = 0; s < worker->opts->pipeline && !conn->closed; s++)
                                udp_start(conn, &conn->slots[s], now);
                } else {
                        tcp_start_messages(conn, now);
                        tcp_flush(conn);
                }
        }
}

int bench_worker_run(const struct bench_worker_config *config, struct bench_stats *stats)
{
        const struct bench_options *opts = config->opts;
        struct bench_worker worker = {
            .config = config, .opts = opts, .stats = stats, .rate_fd = -1};
        bool signalled = false;
        uint64_t start;
        int r = 0;

        worker.loop = ev_loop_new(EVFLAG_AUTO);
        worker.conns = calloc(config->connections, sizeof(*worker.conns));
        worker.buffer = malloc(BENCH_READ_MAX);
        if (!worker.loop || !worker.conns || !worker.buffer) {
                r = -ENOMEM;
                goto out;
        }
        for (unsigned i = 0; i < config->connections; i++) {
                struct bench_conn *conn = &worker.conns[i];

                conn->fd = -1;
                conn->sent_at = calloc(opts->pipeline, sizeof(*conn->sent_at));
                conn->slots = calloc(opts->pipeline, sizeof(*conn->slots));
                if (!conn->sent_at || !conn->slots) {
                        r = -ENOMEM;
                        goto out;
                }
                for (unsigned s = 0; s < opts->pipeline; s++)
                        conn->slots[s].next_seq = s;
        }
        for (unsigned i = 0; i < config->connections; i++) {
                r = conn_open(&worker, &worker.conns[i], config->first_connection + i);
                if (r < 0)
                        goto out;
        }

        if (config->stop || config->requests_so_far) {
                ev_timer_init(&worker.stop_timer, on_stop_timer, 0.1, 0.1);
                worker.stop_timer.data = &worker;
                ev_timer_start(worker.loop, &worker.stop_timer);
        }

        /* Phase one: connect everything, within the timeout. */
        ev_timer_init(&worker.timer, on_timer, (double)opts->timeout_ns / 1e9, 0.0);
        if (worker.pending_connects > 0) {
                ev_timer_start(worker.loop, &worker.timer);
                ev_run(worker.loop, 0);
                ev_timer_stop(worker.loop, &worker.timer);
        }
        for (unsigned i = 0; i < config->connections; i++) {
                if (!worker.conns[i].connected)
                        conn_fail(&worker.conns[i], "connect: timed out");
        }
        signalled = true;
        if (config->connected)
                config->connected(config->connected_arg);

        /* Phase two: keep every connection busy (or, open loop, at the rate) for the duration. */
        start = now_ns();
        worker.start = start;
        worker.measuring = true;
        if (opts->rate > 0) {
                /* Each worker's share of the rate follows its share of the connections. */
                worker.rate = opts->rate * config->connections / opts->connections;
                worker.rate_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
                if (worker.rate_fd < 0) {
                        r = -errno;
                        goto out;
                }
                ev_io_init(&worker.rate_watcher, on_rate_timer, worker.rate_fd, EV_READ);
                worker.rate_watcher.data = &worker;
                ev_io_start(worker.loop, &worker.rate_watcher);
                for (unsigned i = 0; i < config->connections; i++) {
                        if (worker.conns[i].connected && !worker.conns[i].closed)
                                stats->connected++;
                }
                open_loop_dispatch(&worker, start);
        } else {
                worker_start_traffic(&worker, start);
        }
        if (config->progress) {
                ev_timer_init(&worker.progress_timer, on_progress_timer, 1.0, 1.0);
                worker.progress_timer.data = &worker;
                ev_timer_start(worker.loop, &worker.progress_timer);
        }
        if (worker.open > 0 && !(config->stop && atomic_load(config->stop))) {
                ev_now_update(worker.loop);
                ev_timer_init(&worker.timer, on_timer, (double)opts->duration_ns / 1e9, 0.0);
                ev_timer_start(worker.loop, &worker.timer);
                if (opts->udp) {
                        double period = (double)opts->timeout_ns / 4e9;

                        ev_timer_init(&worker.loss_timer, on_loss_timer, period, period);
                        worker.loss_timer.data = &worker;
                        ev_timer_start(worker.loop, &worker.loss_timer);
                }
                ev_run(worker.loop, 0);
                ev_timer_stop(worker.loop, &worker.timer);
                ev_timer_stop(worker.loop, &worker.loss_timer);
        }
        stats->elapsed_ns = now_ns() - start;
        worker.measuring = false;
        if (opts->rate > 0)
                ev_io_stop(worker.loop, &worker.rate_watcher);
        if (config->progress) {
                ev_timer_stop(worker.loop, &worker.progress_timer);
                if (worker.progress_drawn)
                        fputs("\r\033[K", stderr);
        }
        ev_timer_stop(worker.loop, &worker.stop_timer);
out:
        /* The other workers wait for this one at the start line, even when it failed. */
        if (!signalled && config->connected)
                config->connected(config->connected_arg);
        worker_fini(&worker);
        return r;
}
