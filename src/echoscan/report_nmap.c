#include "report_nmap.h"

#include "scan.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

/* Ports of one state a host may show one by one before they are counted as "Not shown". */
#define NMAP_MAX_PER_STATE 25

/* One host's counts, and which of closed and filtered are left out of the list. */
struct host_view {
        struct report_counts counts;
        bool ignored[4]; /* by enum scan_state */
        bool down;
};

int report_nmap_format_parse(char letter, enum report_nmap_format *out)
{
        switch (letter) {
        case 'N':
                *out = REPORT_NMAP_NORMAL;
                return 0;
        case 'X':
                *out = REPORT_NMAP_XML;
                return 0;
        case 'G':
                *out = REPORT_NMAP_GREPABLE;
                return 0;
        default:
                return -EINVAL;
        }
}

static uint64_t count_of(const struct report_counts *counts, unsigned state)
{
        return state == SCAN_OPEN     ? counts->open
               : state == SCAN_CLOSED ? counts->closed
                                      : counts->filtered;
}

static void view_host(const struct report_run *run, const struct report_host *host,
                      struct host_view *view)
{
        /* nmap shows 25 per state, 50 with -vv, 75 with -vvvv ... */
        uint64_t max = NMAP_MAX_PER_STATE * (run->verbose / 2 + 1);

        memset(view, 0, sizeof(*view));
        report_count(host, &view->counts);
        view->down = report_host_down(&view->counts);
        for (unsigned state = SCAN_CLOSED; state <= SCAN_FILTERED; state++) {
                uint64_t n = count_of(&view->counts, state);

                if (run->open_only)
                        view->ignored[state] = n > 0;
                else if (!run->all)
                        view->ignored[state] = n > max;
        }
}

static bool listed(const struct report_host *host, const struct host_view *view, size_t i)
{
        unsigned state = host->states[i] & SCAN_STATE_MASK;

        return state != SCAN_PENDING && !view->ignored[state];
}

static const char *reason(unsigned state)
{
        return state == SCAN_OPEN     ? "syn-ack"
               : state == SCAN_CLOSED ? "conn-refused"
                                      : "no-response";
}

/* nmap's date: "Wed Dec  2 08:05:36 2026", local time. */
static void format_date(double when, char *buf, size_t size)
{
        time_t t = (time_t)when;
        struct tm tm;

        strftime(buf, size, "%a %b %e %H:%M:%S %Y", localtime_r(&t, &tm));
}

/* Write text with the five XML special characters escaped (for attributes and text). */
static void write_xml_text(FILE *out, const char *text)
{
        for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
                switch (*p) {
                case '&':
                        fputs("&amp;", out);
                        break;
                case '<':
                        fputs("&lt;", out);
                        break;
                case '>':
                        fputs("&gt;", out);
                        break;
                case '"':
                        fputs("&quot;", out);
                        break;
                case '\'':
                        fputs("&apos;", out);
                        break;
                default:
                        /* Control characters are not allowed in XML 1.0, even escaped. */
                        fputc(*p < 0x20 && *p != '\t' ? '?' : *p, out);
                        break;
                }
        }
}

/* "a,b-c,d": the ports of host (all of them, or those in state) as ranges. */
static void write_ranges(FILE *out, const struct report_host *host, int state)
{
        bool first = true;

        for (size_t i = 0; i < host->nports;) {
                size_t j = i;

                if (state >= 0 && (host->states[i] & SCAN_STATE_MASK) != (unsigned)state) {
                        i++;
                        continue;
                }
                while (j + 1 < host->nports && host->ports[j + 1] == host->ports[j] + 1 &&
                       (state < 0 || (host->states[j + 1] & SCAN_STATE_MASK) == (unsigned)state))
                        j++;
                fprintf(out, first ? "%u" : ",%u", host->ports[i]);
                if (j > i)
                        fprintf(out, "-%u", host->ports[j]);
                first = false;
                i = j + 1;
        }
}

static bool same_name(const struct report_host *host)
{
        return strcmp(host->name, host->address) == 0;
}

static void count_hosts(const struct report_run *run, const struct report_host *hosts,
                        size_t nhosts, size_t *up)
{
        *up = 0;
        for (size_t h = 0; h < nhosts; h++) {
                struct host_view view;

                view_host(run, &hosts[h], &view);
                *up += !view.down;
        }
}

/* "1 IP address (1 host up) scanned in 0.05 seconds" */
static void write_totals(FILE *out, const struct report_run *run, size_t nhosts, size_t up)
{
        fprintf(out, "%zu IP address%s (%zu host%s up) scanned in %.2f seconds", nhosts,
                nhosts == 1 ? "" : "es", up, up == 1 ? "" : "s", run->end - run->start);
}

static void write_footer_line(FILE *out, const struct report_run *run,
                              const struct report_host *hosts, size_t nhosts)
{
        char date[64];
        size_t up;

        count_hosts(run, hosts, nhosts, &up);
        format_date(run->end, date, sizeof(date));
        fprintf(out, "# echoscan %s at %s -- ", run->interrupted ? "interrupted" : "done", date);
        write_totals(out, run, nhosts, up);
        fputc('\n', out);
}

static void write_header_line(FILE *out, const struct report_run *run)
{
        char date[64];

        format_date(run->start, date, sizeof(date));
        fprintf(out, "# echoscan %s scan initiated %s as: %s\n", run->version, date, run->args);
}

/* "Not shown: 39 closed tcp ports (conn-refused), 10 filtered tcp ports (no-response)" */
static void write_not_shown(FILE *out, const struct host_view *view)
{
        const char *sep = "Not shown: ";

        for (unsigned state = SCAN_CLOSED; state <= SCAN_FILTERED; state++) {
                uint64_t n = count_of(&view->counts, state);

                if (!view->ignored[state] || n == 0)
                        continue;
                fprintf(out, "%s%llu %s tcp port%s (%s)", sep, (unsigned long long)n,
                        report_state_name(state), n == 1 ? "" : "s", reason(state));
                sep = ", ";
        }
        if (strcmp(sep, ", ") == 0)
                fputc('\n', out);
}

static void write_normal_host(FILE *out, const struct report_run *run,
                              const struct report_host *host, const struct services *db)
{
        struct host_view view;
        size_t port_width = strlen("PORT"), state_width = strlen("STATE"), shown = 0;
        char label[16];

        view_host(run, host, &view);
        if (view.down && !run->verbose)
                return;
        if (same_name(host))
                fprintf(out, "Nmap scan report for %s%s\n", host->address,
                        view.down ? " [host down]" : "");
        else
                fprintf(out, "Nmap scan report for %s (%s)%s\n", host->name, host->address,
                        view.down ? " [host down]" : "");
        if (view.down)
                return;
        fputs("Host is up.\n", out);
        for (size_t i = 0; i < host->nports; i++) {
                if (!listed(host, &view, i))
                        continue;
                shown++;
                snprintf(label, sizeof(label), "%u/tcp", host->ports[i]);
                if (strlen(label) > port_width)
                        port_width = strlen(label);
                if (strlen(report_state_name(host->states[i])) > state_width)
                        state_width = strlen(report_state_name(host->states[i]));
        }
        if (shown == 0) {
                uint64_t scanned = view.counts.open + view.counts.closed + view.counts.filtered;

                fprintf(out, "All %llu scanned port%s on %s are in ignored states.\n",
                        (unsigned long long)scanned, scanned == 1 ? "" : "s", host->address);
                write_not_shown(out, &view);
                fputc('\n', out);
                return;
        }
        write_not_shown(out, &view);
        fprintf(out, "%-*s %-*s SERVICE\n", (int)port_width, "PORT", (int)state_width, "STATE");
        for (size_t i = 0; i < host->nports; i++) {
                if (!listed(host, &view, i))
                        continue;
                snprintf(label, sizeof(label), "%u/tcp", host->ports[i]);
                fprintf(out, "%-*s %-*s %s\n", (int)port_width, label, (int)state_width,
                        report_state_name(host->states[i]), services_name(db, host->ports[i]));
        }
        fputc('\n', out);
}

static void write_normal(FILE *out, const struct report_run *run, const struct report_host *hosts,
                         size_t nhosts, const struct services *db)
{
        write_header_line(out, run);
        for (size_t h = 0; h < nhosts; h++)
                write_normal_host(out, run, &hosts[h], db);
        write_footer_line(out, run, hosts, nhosts);
}

static void write_grepable_host(FILE *out, const struct report_run *run,
                                const struct report_host *host, const struct services *db)
{
        struct host_view view;
        const char *sep = "";
        unsigned largest = 0;

        view_host(run, host, &view);
        if (view.down && !run->verbose)
                return;
        fprintf(out, "Host: %s (%s)\tStatus: %s\n", host->address,
                same_name(host) ? "" : host->name, view.down ? "Down" : "Up");
        if (view.down)
                return;
        fprintf(out, "Host: %s (%s)\tPorts: ", host->address, same_name(host) ? "" : host->name);
        for (size_t i = 0; i < host->nports; i++) {
                const char *name;

                if (!listed(host, &view, i))
                        continue;
                name = services_lookup(db, host->ports[i]);
                fprintf(out, "%s%u/%s/tcp//%s///", sep, host->ports[i],
                        report_state_name(host->states[i]), name ? name : "");
                sep = ", ";
        }
        /* nmap names one ignored state: the one with the most ports. */
        for (unsigned state = SCAN_CLOSED; state <= SCAN_FILTERED; state++) {
                if (view.ignored[state] &&
                    (!largest || count_of(&view.counts, state) > count_of(&view.counts, largest)))
                        largest = state;
        }
        if (largest)
                fprintf(out, "\tIgnored State: %s (%llu)", report_state_name(largest),
                        (unsigned long long)count_of(&view.counts, largest));
        fputc('\n', out);
}

static void write_grepable(FILE *out, const struct report_run *run, const struct report_host *hosts,
                           size_t nhosts, const struct services *db)
{
        write_header_line(out, run);
        for (size_t h = 0; h < nhosts; h++)
                write_grepable_host(out, run, &hosts[h], db);
        write_footer_line(out, run, hosts, nhosts);
}

static void write_xml_host(FILE *out, const struct report_run *run, const struct report_host *host,
                           const struct services *db)
{
        struct host_view view;

        view_host(run, host, &view);
        if (view.down && !run->verbose)
                return;
        fprintf(out, "<host starttime=\"%lld\" endtime=\"%lld\">", (long long)run->start,
                (long long)run->end);
        fprintf(out, "<status state=\"%s\" reason=\"%s\" reason_ttl=\"0\"/>\n",
                view.down ? "down" : "up",
                view.counts.open     ? reason(SCAN_OPEN)
                : view.counts.closed ? reason(SCAN_CLOSED)
                                     : reason(SCAN_FILTERED));
        fprintf(out, "<address addr=\"%s\" addrtype=\"%s\"/>\n", host->address,
                strchr(host->address, ':') ? "ipv6" : "ipv4");
        fputs("<hostnames>\n", out);
        if (!same_name(host)) {
                fputs("<hostname name=\"", out);
                write_xml_text(out, host->name);
                fputs("\" type=\"user\"/>\n", out);
        }
        fputs("</hostnames>\n", out);
        if (view.down) {
                fputs("</host>\n", out);
                return;
        }
        fputs("<ports>", out);
        for (unsigned state = SCAN_CLOSED; state <= SCAN_FILTERED; state++) {
                uint64_t n = count_of(&view.counts, state);

                if (!view.ignored[state] || n == 0)
                        continue;
                fprintf(out, "<extraports state=\"%s\" count=\"%llu\">\n", report_state_name(state),
                        (unsigned long long)n);
                fprintf(out, "<extrareasons reason=\"%s\" count=\"%llu\" proto=\"tcp\" ports=\"",
                        reason(state), (unsigned long long)n);
                write_ranges(out, host, (int)state);
                fputs("\"/>\n</extraports>\n", out);
        }
        for (size_t i = 0; i < host->nports; i++) {
                unsigned state = host->states[i] & SCAN_STATE_MASK;
                const char *name;

                if (!listed(host, &view, i))
                        continue;
                fprintf(out,
                        "<port protocol=\"tcp\" portid=\"%u\"><state state=\"%s\" reason=\"%s\" "
                        "reason_ttl=\"0\"/>",
                        host->ports[i], report_state_name(state), reason(state));
                /* Like nmap, a service element only for ports the services file names. */
                name = services_lookup(db, host->ports[i]);
                if (name) {
                        fputs("<service name=\"", out);
                        write_xml_text(out, name);
                        fputs("\" method=\"table\" conf=\"3\"/>", out);
                }
                fputs("</port>\n", out);
        }
        fputs("</ports>\n</host>\n", out);
}

static void write_xml(FILE *out, const struct report_run *run, const struct report_host *hosts,
                      size_t nhosts, const struct services *db)
{
        char start[64], end[64];
        size_t up;

        format_date(run->start, start, sizeof(start));
        format_date(run->end, end, sizeof(end));
        count_hosts(run, hosts, nhosts, &up);
        fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n", out);
        fprintf(out, "<!-- echoscan %s scan initiated %s as: ", run->version, start);
        /* "--" may not appear inside an XML comment. */
        for (const char *p = run->args; *p; p++)
                fputc(*p == '-' && p[1] == '-' ? '=' : *p, out);
        fputs(" -->\n", out);
        /* nmap's DTD allows no scanner but "nmap"; the version and args say echoscan. */
        fputs("<nmaprun scanner=\"nmap\" args=\"", out);
        write_xml_text(out, run->args);
        fprintf(out,
                "\" start=\"%lld\" startstr=\"%s\" version=\"%s\" xmloutputversion=\"1.05\">\n",
                (long long)run->start, start, run->version);
        fprintf(out, "<scaninfo type=\"connect\" protocol=\"tcp\" numservices=\"%zu\" services=\"",
                nhosts ? hosts[0].nports : (size_t)0);
        if (nhosts)
                write_ranges(out, &hosts[0], -1);
        fprintf(out, "\"/>\n<verbose level=\"%u\"/>\n<debugging level=\"0\"/>\n", run->verbose);
        for (size_t h = 0; h < nhosts; h++)
                write_xml_host(out, run, &hosts[h], db);
        fprintf(out,
                "<runstats><finished time=\"%lld\" timestr=\"%s\" summary=\"echoscan %s at %s; ",
                (long long)run->end, end, run->interrupted ? "interrupted" : "done", end);
        write_totals(out, run, nhosts, up);
        fprintf(
            out,
            "\" elapsed=\"%.2f\" exit=\"%s\"%s/><hosts up=\"%zu\" down=\"%zu\" total=\"%zu\"/>\n",
            run->end - run->start, run->interrupted ? "error" : "success",
            run->interrupted ? " errormsg=\"interrupted\"" : "", up, nhosts - up, nhosts);
        fputs("</runstats>\n</nmaprun>\n", out);
}

int report_nmap_write(FILE *out, enum report_nmap_format format, const struct report_run *run,
                      const struct report_host *hosts, size_t nhosts, const struct services *db)
{
        switch (format) {
        case REPORT_NMAP_XML:
                write_xml(out, run, hosts, nhosts, db);
                break;
        case REPORT_NMAP_GREPABLE:
                write_grepable(out, run, hosts, nhosts, db);
                break;
        default:
                write_normal(out, run, hosts, nhosts, db);
                break;
        }
        if (fflush(out) != 0 || ferror(out))
                return -EIO;
        return 0;
}
