/*
 * chat_fanout: the measuring half of bench/chat-fanout.py.
 *
 * The driver opens and logs in every connection (chat login, Redis SUBSCRIBE,
 * IRC NICK/USER/JOIN) and hands them over as inherited descriptors; this
 * program only measures. One sender publishes messages of --size bytes of
 * text, "FANOUT <seq> <monotonic ns> xxx...", and every receiver must get
 * each of them once. The sender keeps at most --window messages not yet
 * delivered to every receiver, so the server's queues stay bounded and the
 * rate is the server's (closed loop); --window 1 gives the latency of one
 * message at a time.
 *
 * It reads the server's utime + stime from /proc/PID/stat (summed over every
 * PID given: the echod nodes and Redis of a multi-node run) at the start and
 * the end of the measured interval and prints one JSON object: deliveries,
 * deliveries/s, server CPU per delivery, and latency percentiles of every
 * delivery in the interval (receive time minus the sender's time stamp).
 *
 * Plain epoll, one thread, level-triggered; built by the driver with
 * "cc -O2 -o build/bench/chat_fanout bench/chat_fanout.c".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum proto { PROTO_CHAT, PROTO_REDIS, PROTO_IRC };

#define LINE_MAX_BYTES 8192
#define RING           65536  /* messages in flight at most (window is far below) */
#define HIST_FINE      100000 /* 1 us buckets up to 100 ms */
#define HIST_COARSE    60000  /* then 1 ms buckets up to 60 s */

struct peer {
        int fd;
        size_t length;
        int skipping;      /* dropping an overlong line up to its end */
        uint64_t next_seq; /* to check order and duplicates */
        char buffer[LINE_MAX_BYTES];
};

static enum proto proto = PROTO_CHAT;
static struct peer *receivers;
static int receiver_count;
static struct peer sender;
#define SERVER_PIDS_MAX 16
static int server_pids[SERVER_PIDS_MAX]; /* several: echod nodes and their Redis */
static int server_pid_count;
static size_t message_size = 100;
static int window = 32;
static double warmup_s = 1.0, duration_s = 5.0;
static double stall_s = 10.0; /* no message completed this long: give up */

static uint32_t remaining[RING]; /* receivers still due, per seq % RING */
static uint64_t sent_seq;        /* messages sent */
static uint64_t done_seq;        /* messages delivered to everyone */
static char out[1 << 16];        /* the sender's unsent bytes */
static size_t out_start, out_end;

static int measuring;
static uint64_t deliveries_measured, deliveries_total, out_of_order, foreign;
static uint64_t fine[HIST_FINE], coarse[HIST_COARSE + 1];
static uint64_t sender_errors, disconnects;

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double process_cpu_s(int pid)
{
        char path[64], text[4096];
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
                return -1;
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = 0;
        /* The command name may hold spaces; the fields after it are fixed. */
        char *p = strrchr(text, ')');
        if (!p)
                return -1;
        unsigned long utime = 0, stime = 0;
        /* After ")": state is field 3; utime and stime are fields 14 and 15. */
        if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) !=
            2)
                return -1;
        return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* utime + stime of every server process together. */
static double server_cpu_s(void)
{
        double total = 0;
        for (int i = 0; i < server_pid_count; i++) {
                double cpu = process_cpu_s(server_pids[i]);
                if (cpu < 0)
                        return -1;
                total += cpu;
        }
        return total;
}

static void parse_pids(char *list)
{
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ","))
                if (server_pid_count < SERVER_PIDS_MAX && atoi(tok) > 0)
                        server_pids[server_pid_count++] = atoi(tok);
}

static void record_latency(uint64_t ns)
{
        uint64_t us = ns / 1000;
        if (us < HIST_FINE)
                fine[us]++;
        else if (us / 1000 < HIST_COARSE)
                coarse[us / 1000]++;
        else
                coarse[HIST_COARSE]++;
}

static double percentile_us(double q)
{
        uint64_t total = 0, seen = 0;
        for (int i = 0; i < HIST_FINE; i++)
                total += fine[i];
        for (int i = 0; i <= HIST_COARSE; i++)
                total += coarse[i];
        if (!total)
                return 0;
        uint64_t rank = (uint64_t)(q * (double)total);
        if (rank >= total)
                rank = total - 1;
        for (int i = 0; i < HIST_FINE; i++) {
                seen += fine[i];
                if (seen > rank)
                        return i + 0.5;
        }
        for (int i = 0; i <= HIST_COARSE; i++) {
                seen += coarse[i];
                if (seen > rank)
                        return i * 1000.0 + 500;
        }
        return 0;
}

static void queue_out(const char *data, size_t n)
{
        if (out_end + n > sizeof(out)) {
                memmove(out, out + out_start, out_end - out_start);
                out_end -= out_start;
                out_start = 0;
        }
        if (out_end + n > sizeof(out)) {
                fprintf(stderr, "chat_fanout: sender output overflow\n");
                exit(1);
        }
        memcpy(out + out_end, data, n);
        out_end += n;
}

static void flush_out(void)
{
        while (out_start < out_end) {
                ssize_t n = send(sender.fd, out + out_start, out_end - out_start, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return;
                        perror("chat_fanout: send");
                        exit(1);
                }
                out_start += (size_t)n;
        }
        out_start = out_end = 0;
}

static void send_message(void)
{
        char text[4096], frame[4200];
        size_t n = (size_t)snprintf(text, sizeof(text), "FANOUT %llu %llu ",
                                    (unsigned long long)sent_seq, (unsigned long long)now_ns());
        while (n < message_size && n < sizeof(text) - 1)
                text[n++] = 'x';
        text[n] = 0;
        int f;
        switch (proto) {
        case PROTO_CHAT:
                f = snprintf(frame, sizeof(frame), "%s\n", text);
                break;
        case PROTO_REDIS:
                f = snprintf(frame, sizeof(frame),
                             "*3\r\n$7\r\nPUBLISH\r\n$5\r\nbench\r\n$%zu\r\n%s\r\n", n, text);
                break;
        default:
                f = snprintf(frame, sizeof(frame), "PRIVMSG #bench :%s\r\n", text);
                break;
        }
        remaining[sent_seq % RING] = (uint32_t)receiver_count;
        sent_seq++;
        queue_out(frame, (size_t)f);
}

static void reply_pong(struct peer *p, const char *line, size_t n)
{
        /* IRC keep-alive: answer "PING x" with "PONG x" (blocking is fine, rare). */
        char pong[600];
        if (n > 500)
                n = 500;
        int f = snprintf(pong, sizeof(pong), "PONG%.*s\r\n", (int)(n - 4), line + 4);
        if (send(p->fd, pong, (size_t)f, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
                perror("chat_fanout: send PONG");
}

static void handle_line(struct peer *p, char *line, size_t n, uint64_t now)
{
        if (proto == PROTO_IRC && n >= 5 && memcmp(line, "PING ", 5) == 0) {
                reply_pong(p, line, n);
                return;
        }
        if (p == &sender) {
                if (proto == PROTO_CHAT && n >= 4 && memcmp(line, "ERR ", 4) == 0)
                        sender_errors++;
                if (proto == PROTO_REDIS && n >= 1 && line[0] == '-')
                        sender_errors++;
                return;
        }
        char *mark = memmem(line, n, "FANOUT ", 7);
        if (!mark)
                return;
        char *end;
        unsigned long long seq = strtoull(mark + 7, &end, 10);
        unsigned long long stamp = strtoull(end, NULL, 10);
        if (seq >= sent_seq || remaining[seq % RING] == 0) {
                foreign++; /* a message of an earlier run, or a duplicate */
                return;
        }
        if (seq != p->next_seq)
                out_of_order++;
        p->next_seq = seq + 1;
        remaining[seq % RING]--;
        deliveries_total++;
        if (measuring) {
                deliveries_measured++;
                record_latency(now - stamp);
        }
}

static void read_peer(struct peer *p)
{
        for (;;) {
                ssize_t n = recv(p->fd, p->buffer + p->length, sizeof(p->buffer) - p->length, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return;
                        perror("chat_fanout: recv");
                        n = 0;
                }
                if (n == 0) {
                        disconnects++;
                        close(p->fd);
                        p->fd = -1;
                        return;
                }
                uint64_t now = now_ns();
                p->length += (size_t)n;
                char *start = p->buffer, *limit = p->buffer + p->length, *nl;
                while ((nl = memchr(start, '\n', (size_t)(limit - start)))) {
                        if (!p->skipping)
                                handle_line(p, start, (size_t)(nl - start), now);
                        p->skipping = 0;
                        start = nl + 1;
                }
                p->length = (size_t)(limit - start);
                memmove(p->buffer, start, p->length);
                if (p->length == sizeof(p->buffer)) {
                        p->length = 0; /* an overlong line: not ours, drop it */
                        p->skipping = 1;
                }
                if ((size_t)n < sizeof(p->buffer) / 2)
                        return; /* level-triggered: the rest comes next time */
        }
}

static void advance_window(void)
{
        while (done_seq < sent_seq && remaining[done_seq % RING] == 0)
                done_seq++;
}

static int parse_fds(char *list)
{
        int count = 1;
        for (char *c = list; *c; c++)
                count += *c == ',';
        receivers = calloc((size_t)count, sizeof(*receivers));
        if (!receivers)
                return -1;
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ","))
                receivers[receiver_count++].fd = atoi(tok);
        return 0;
}

static void usage(void)
{
        fprintf(stderr,
                "usage: chat_fanout --proto chat|redis|irc --sender FD --receivers FD,FD,...\n"
                "       --server-pid PID[,PID...] [--size 100] [--window 32] [--warmup 1]"
                " [--duration 5] [--stall 10]\n");
        exit(2);
}

int main(int argc, char **argv)
{
        sender.fd = -1;
        for (int i = 1; i < argc; i++) {
                const char *flag = argv[i];
                if (i + 1 >= argc)
                        usage();
                char *value = argv[++i];
                if (!strcmp(flag, "--proto"))
                        proto = !strcmp(value, "chat")    ? PROTO_CHAT
                                : !strcmp(value, "redis") ? PROTO_REDIS
                                                          : PROTO_IRC;
                else if (!strcmp(flag, "--sender"))
                        sender.fd = atoi(value);
                else if (!strcmp(flag, "--receivers"))
                        parse_fds(value);
                else if (!strcmp(flag, "--server-pid"))
                        parse_pids(value);
                else if (!strcmp(flag, "--size"))
                        message_size = (size_t)atoi(value);
                else if (!strcmp(flag, "--window"))
                        window = atoi(value);
                else if (!strcmp(flag, "--warmup"))
                        warmup_s = atof(value);
                else if (!strcmp(flag, "--duration"))
                        duration_s = atof(value);
                else if (!strcmp(flag, "--stall"))
                        stall_s = atof(value);
                else
                        usage();
        }
        if (sender.fd < 0 || !receiver_count || !server_pid_count || window < 1 ||
            window > RING / 2)
                usage();

        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN};
        for (int i = 0; i <= receiver_count; i++) {
                struct peer *p = i < receiver_count ? &receivers[i] : &sender;
                fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK);
                ev.data.ptr = p;
                if (epoll_ctl(ep, EPOLL_CTL_ADD, p->fd, &ev) < 0) {
                        perror("chat_fanout: epoll_ctl");
                        return 1;
                }
        }

        /* Drain what the login left (JOIN lines, history, names lists). */
        struct epoll_event events[1024];
        uint64_t quiet_since = now_ns();
        while (now_ns() - quiet_since < 300000000u) {
                int n = epoll_wait(ep, events, 1024, 50);
                for (int i = 0; i < n; i++)
                        read_peer(events[i].data.ptr);
                if (n > 0)
                        quiet_since = now_ns();
        }

        uint64_t start = now_ns();
        uint64_t measure_at = start + (uint64_t)(warmup_s * 1e9);
        uint64_t stop_at = measure_at + (uint64_t)(duration_s * 1e9);
        uint64_t measured_start = 0, measured_end = 0, last_progress = start;
        uint64_t progress_seq = 0, sent_at_start = 0, sent_at_end = 0;
        double cpu_start = 0, cpu_end = 0;
        int sending = 1, stalled = 0;
        for (;;) {
                uint64_t now = now_ns();
                if (!measuring && sending && now >= measure_at) {
                        measuring = 1;
                        measured_start = now;
                        sent_at_start = sent_seq;
                        cpu_start = server_cpu_s();
                } else if (measuring && now >= stop_at) {
                        cpu_end = server_cpu_s();
                        measured_end = now_ns();
                        sent_at_end = sent_seq;
                        measuring = 0;
                        sending = 0;
                }
                advance_window();
                if (done_seq != progress_seq) {
                        progress_seq = done_seq;
                        last_progress = now;
                }
                if (!sending && done_seq == sent_seq)
                        break;
                if (now - last_progress > (uint64_t)(stall_s * 1e9)) {
                        stalled = 1; /* a delivery is lost: stop rather than hang */
                        if (measuring) {
                                cpu_end = server_cpu_s();
                                measured_end = now;
                                sent_at_end = sent_seq;
                                measuring = 0;
                        }
                        break;
                }
                while (sending && sent_seq - done_seq < (uint64_t)window)
                        send_message();
                flush_out();
                ev.events = EPOLLIN | (out_start < out_end ? EPOLLOUT : 0);
                ev.data.ptr = &sender;
                if (sender.fd >= 0)
                        epoll_ctl(ep, EPOLL_CTL_MOD, sender.fd, &ev);
                int n = epoll_wait(ep, events, 1024, 100);
                for (int i = 0; i < n; i++) {
                        struct peer *p = events[i].data.ptr;
                        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                                read_peer(p);
                }
        }

        /* Receivers still owed the oldest message (all of them when the
         * server stopped relaying, a few when it stopped writing to some). */
        int behind = 0;
        for (int i = 0; i < receiver_count; i++)
                behind += done_seq < sent_seq && receivers[i].next_seq <= done_seq;
        double seconds = (double)(measured_end - measured_start) / 1e9;
        double cpu = cpu_end - cpu_start;
        printf("{\"receivers\": %d, \"window\": %d, \"size\": %zu, \"seconds\": %.3f, "
               "\"messages\": %llu, \"deliveries\": %llu, \"deliveries_per_s\": %.1f, "
               "\"messages_per_s\": %.1f, \"server_cpu_s\": %.3f, \"cpu_us_per_delivery\": %.4f, "
               "\"latency_us\": {\"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, \"p99.9\": %.1f, "
               "\"max\": %.1f}, \"lost\": %llu, \"out_of_order\": %llu, \"foreign\": %llu, "
               "\"sender_errors\": %llu, \"disconnects\": %llu, \"stalled\": %s, "
               "\"receivers_behind\": %d}\n",
               receiver_count, window, message_size, seconds,
               (unsigned long long)(sent_at_end - sent_at_start),
               (unsigned long long)deliveries_measured,
               seconds > 0 ? (double)deliveries_measured / seconds : 0.0,
               seconds > 0 ? (double)(sent_at_end - sent_at_start) / seconds : 0.0, cpu,
               deliveries_measured ? cpu / (double)deliveries_measured * 1e6 : 0.0,
               percentile_us(0.50), percentile_us(0.90), percentile_us(0.99), percentile_us(0.999),
               percentile_us(1.0),
               (unsigned long long)(sent_seq * (uint64_t)receiver_count - deliveries_total),
               (unsigned long long)out_of_order, (unsigned long long)foreign,
               (unsigned long long)sender_errors, (unsigned long long)disconnects,
               stalled ? "true" : "false", behind);
        return stalled || disconnects ? 1 : 0;
}
