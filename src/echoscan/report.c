#include "report.h"
#include "json.h"

#include "scan.h"

#include <errno.h>
#include <string.h>
#include <time.h>

int report_format_parse(const char *text, enum report_format *out)
{
        if (!text)
                return -EINVAL;
        if (strcmp(text, "plain") == 0)
                *out = REPORT_PLAIN;
        else if (strcmp(text, "json") == 0)
                *out = REPORT_JSON;
        else if (strcmp(text, "grep") == 0)
                *out = REPORT_GREP;
        else
                return -EINVAL;
        return 0;
}

const char *report_state_name(unsigned state)
{
        switch (state & SCAN_STATE_MASK) {
        case SCAN_OPEN:
                return "open";
        case SCAN_CLOSED:
                return "closed";
        case SCAN_FILTERED:
                return "filtered";
        default:
                return "pending";
        }
}

void report_count(const struct report_host *host, struct report_counts *counts)
{
        for (size_t i = 0; i < host->nports; i++) {
                switch (host->states[i] & SCAN_STATE_MASK) {
                case SCAN_OPEN:
                        counts->open++;
                        break;
                case SCAN_CLOSED:
                        counts->closed++;
                        break;
                case SCAN_FILTERED:
                        counts->filtered++;
                        break;
                default:
                        break;
                }
        }
}

bool report_host_down(const struct report_counts *counts)
{
        return counts->open == 0 && counts->closed == 0 && counts->filtered > 0;
}

static bool shown(const struct report_host *host, size_t i, bool all)
{
        unsigned state = host->states[i] & SCAN_STATE_MASK;

        /* A port still pending when the scan was interrupted was not scanned. */
        return state == SCAN_OPEN || (all && state != SCAN_PENDING);
}

static void write_plain(FILE *out, const struct report_host *hosts, size_t nhosts, bool all,
                        const struct services *db)
{
        for (size_t h = 0; h < nhosts; h++) {
                const struct report_host *host = &hosts[h];

                /* One host: port lines only. Several: a heading for each. */
                if (nhosts > 1) {
                        struct report_counts counts = {0};

                        report_count(host, &counts);
                        if (h > 0)
                                fputc('\n', out);
                        if (strcmp(host->name, host->address) == 0)
                                fprintf(out, "%s", host->address);
                        else
                                fprintf(out, "%s (%s)", host->name, host->address);
                        fprintf(out, ": %s\n", report_host_down(&counts) ? "down" : "up");
                }
                for (size_t i = 0; i < host->nports; i++) {
                        if (shown(host, i, all))
                                fprintf(out, "%u/tcp %s %s\n", host->ports[i],
                                        report_state_name(host->states[i]),
                                        services_name(db, host->ports[i]));
                }
        }
}

static void write_grep(FILE *out, const struct report_host *hosts, size_t nhosts, bool all,
                       const struct services *db)
{
        for (size_t h = 0; h < nhosts; h++) {
                const struct report_host *host = &hosts[h];

                for (size_t i = 0; i < host->nports; i++) {
                        if (shown(host, i, all))
                                fprintf(out, "%s\t%u/tcp\t%s\t%s\n", host->address, host->ports[i],
                                        report_state_name(host->states[i]),
                                        services_name(db, host->ports[i]));
                }
        }
}

/* A key (with what comes before it) and its value, a JSON string. */
static void json_field(FILE *out, const char *key, const char *value)
{
        fputs(key, out);
        json_write_string(out, value);
}

static void write_json(FILE *out, const struct report_host *hosts, size_t nhosts, bool all,
                       const struct services *db, const struct report_run *run)
{
        fputc('{', out);
        if (run) {
                char when[64];
                time_t start = (time_t)run->start;
                struct tm tm;

                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S%z", localtime_r(&start, &tm));
                json_field(out, "\"scanner\": \"echoscan\", \"version\": ", run->version);
                json_field(out, ", \"args\": ", run->args);
                fprintf(out,
                        ", \"start\": %.3f, \"startstr\": \"%s\", \"elapsed\": %.3f, "
                        "\"interrupted\": %s,\n ",
                        run->start, when, run->end - run->start,
                        run->interrupted ? "true" : "false");
        }
        fputs("\"hosts\": [", out);
        for (size_t h = 0; h < nhosts; h++) {
                const struct report_host *host = &hosts[h];
                struct report_counts counts = {0};
                bool first = true;

                report_count(host, &counts);
                json_field(out, h ? ",\n  {\"host\": " : "\n  {\"host\": ", host->name);
                json_field(out, ", \"address\": ", host->address);
                fprintf(out,
                        ", \"status\": \"%s\", \"open\": %llu, \"closed\": %llu, "
                        "\"filtered\": %llu, \"ports\": [",
                        report_host_down(&counts) ? "down" : "up", (unsigned long long)counts.open,
                        (unsigned long long)counts.closed, (unsigned long long)counts.filtered);
                for (size_t i = 0; i < host->nports; i++) {
                        if (!shown(host, i, all))
                                continue;
                        fprintf(out,
                                "%s\n    {\"port\": %u, \"protocol\": \"tcp\", \"state\": "
                                "\"%s\", \"service\": ",
                                first ? "" : ",", host->ports[i],
                                report_state_name(host->states[i]));
                        json_write_string(out, services_name(db, host->ports[i]));
                        fputc('}', out);
                        first = false;
                }
                fputs(first ? "]}" : "\n  ]}", out);
        }
        fputs(nhosts ? "\n]}\n" : "]}\n", out);
}

int report_write(FILE *out, enum report_format format, const struct report_host *hosts,
                 size_t nhosts, bool all, const struct services *db, const struct report_run *run)
{
        switch (format) {
        case REPORT_JSON:
                write_json(out, hosts, nhosts, all, db, run);
                break;
        case REPORT_GREP:
                write_grep(out, hosts, nhosts, all, db);
                break;
        default:
                write_plain(out, hosts, nhosts, all, db);
                break;
        }
        if (fflush(out) != 0 || ferror(out))
                return -EIO;
        return 0;
}

static int finish(int n, size_t size)
{
        if (n < 0 || (size_t)n >= size)
                return -ENOSPC;
        return n;
}

int report_summary(char *buf, size_t size, const struct report_counts *counts, size_t nhosts,
                   uint64_t scanned, double elapsed)
{
        double rate = elapsed > 0 ? (double)scanned / elapsed : 0;
        int n;

        n = snprintf(buf, size,
                     "scanned %llu port%s on %zu host%s in %.2f s (%.0f ports/s): "
                     "%llu open, %llu closed, %llu filtered",
                     (unsigned long long)scanned, scanned == 1 ? "" : "s", nhosts,
                     nhosts == 1 ? "" : "s", elapsed, rate, (unsigned long long)counts->open,
                     (unsigned long long)counts->closed, (unsigned long long)counts->filtered);
        return finish(n, size);
}

static int format_duration(char *buf, size_t size, double seconds)
{
        unsigned long s = (unsigned long)(seconds + 0.5);

        if (s >= 3600)
                return snprintf(buf, size, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
        return snprintf(buf, size, "%lu:%02lu", s / 60, s % 60);
}

int report_progress(char *buf, size_t size, uint64_t done, uint64_t total, double elapsed,
                    unsigned width)
{
        double fraction = total ? (double)done / (double)total : 1.0;
        double rate = elapsed > 0 ? (double)done / elapsed : 0;
        unsigned filled = (unsigned)(fraction * width);
        char eta[32];
        size_t pos = 0;
        int n;

        if (width + 3 > size)
                return -ENOSPC;
        buf[pos++] = '[';
        for (unsigned i = 0; i < width; i++)
                buf[pos++] = i < filled ? '#' : '-';
        buf[pos++] = ']';
        if (done >= total)
                snprintf(eta, sizeof(eta), "0:00");
        else if (rate > 0)
                format_duration(eta, sizeof(eta), (double)(total - done) / rate);
        else
                snprintf(eta, sizeof(eta), "--:--");
        n = snprintf(buf + pos, size - pos, " %5.1f%% %8.0f ports/s ETA %s", fraction * 100.0, rate,
                     eta);
        if (n < 0 || (size_t)n >= size - pos)
                return -ENOSPC;
        return (int)pos + n;
}
