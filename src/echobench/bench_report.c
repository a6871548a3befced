#include "bench_report.h"
#include "json.h"

#include "units.h"

#include <stdbool.h>

const double bench_report_percentiles[BENCH_REPORT_PERCENTILES] = {50.0, 90.0, 99.0, 99.9};
static const char *const percentile_names[BENCH_REPORT_PERCENTILES] = {"p50", "p90", "p99",
                                                                       "p99.9"};

const double bench_report_distribution[BENCH_REPORT_DISTRIBUTION] = {50.0, 75.0,  90.0,   99.0,
                                                                     99.9, 99.99, 99.999, 100.0};
static const char *const distribution_names[BENCH_REPORT_DISTRIBUTION] = {
    "p50", "p75", "p90", "p99", "p99.9", "p99.99", "p99.999", "max"};

static double seconds(const struct bench_stats *stats)
{
        return stats->elapsed_ns ? (double)stats->elapsed_ns / 1e9 : 1.0;
}

static void write_distribution(FILE *out, const struct histogram *latency)
{
        char text[32];

        fputs("latency distribution\n", out);
        for (int i = 0; i < BENCH_REPORT_DISTRIBUTION; i++) {
                units_format_duration(histogram_percentile(latency, bench_report_distribution[i]),
                                      text, sizeof(text));
                fprintf(out, "  %8.3f%%  %s\n", bench_report_distribution[i], text);
        }
        units_format_duration((uint64_t)histogram_mean(latency), text, sizeof(text));
        fprintf(out, "  mean %s", text);
        units_format_duration((uint64_t)histogram_stdev(latency), text, sizeof(text));
        fprintf(out, ", stdev %s, %llu samples\n", text, (unsigned long long)latency->count);
}

void bench_report_text(FILE *out, const struct bench_options *opts, const char *target,
                       const struct bench_stats *stats, bool interrupted)
{
        double secs = seconds(stats);
        char text[32];

        fprintf(out,
                "target       %s %s, %u connections, %zu-byte messages, pipeline %u, %u thread%s\n",
                opts->udp ? "udp" : "tcp", target, opts->connections, opts->message_size,
                opts->pipeline, opts->threads, opts->threads == 1 ? "" : "s");
        if (opts->rate > 0)
                fprintf(out,
                        "mode         open loop at %.1f requests/s (latency from the intended send "
                        "time)\n",
                        opts->rate);
        else
                fprintf(out, "mode         closed loop\n");
        fprintf(out, "duration     %.2fs%s, %llu connections up\n", secs,
                interrupted ? " (interrupted)" : "", (unsigned long long)stats->connected);
        fprintf(out, "requests     %llu, %.1f/s\n", (unsigned long long)stats->requests,
                (double)stats->requests / secs);
        fprintf(out, "throughput   %.2f MiB/s echoed\n",
                (double)stats->bytes / secs / (1024.0 * 1024.0));
        fprintf(out, "latency    ");
        for (int i = 0; i < BENCH_REPORT_PERCENTILES; i++) {
                units_format_duration(
                    histogram_percentile(&stats->latency, bench_report_percentiles[i]), text,
                    sizeof(text));
                fprintf(out, "  %s %s", percentile_names[i], text);
        }
        units_format_duration(stats->latency.count ? stats->latency.max : 0, text, sizeof(text));
        fprintf(out, "  max %s\n", text);
        fprintf(out, "mismatches   %llu\n", (unsigned long long)stats->mismatches);
        fprintf(out, "errors       %llu%s%s\n", (unsigned long long)stats->errors,
                stats->first_error[0] ? ", first: " : "", stats->first_error);
        if (opts->udp)
                fprintf(out, "lost         %llu datagrams\n", (unsigned long long)stats->lost);
        if (opts->latency)
                write_distribution(out, &stats->latency);
}

void bench_report_json(FILE *out, const struct bench_options *opts, const char *target,
                       const struct bench_stats *stats, bool interrupted)
{
        double secs = seconds(stats);

        fprintf(out, "{\"target\":");
        json_write_string(out, target);
        fprintf(out,
                ",\"protocol\":\"%s\",\"connections\":%u,\"message_size\":%zu,\"pipeline\":%u,"
                "\"threads\":%u,\"mode\":\"%s\",\"rate\":%.1f,\"interrupted\":%s,\"duration_s\":%."
                "3f,\"connected\":%llu,\"requests\":%llu,"
                "\"requests_per_s\":%.1f,\"mib_per_s\":%.3f,\"latency_ns\":{",
                opts->udp ? "udp" : "tcp", opts->connections, opts->message_size, opts->pipeline,
                opts->threads, opts->rate > 0 ? "open" : "closed", opts->rate,
                interrupted ? "true" : "false", secs, (unsigned long long)stats->connected,
                (unsigned long long)stats->requests, (double)stats->requests / secs,
                (double)stats->bytes / secs / (1024.0 * 1024.0));
        for (int i = 0; i < BENCH_REPORT_DISTRIBUTION - 1; i++)
                fprintf(out, "\"%s\":%llu,", distribution_names[i],
                        (unsigned long long)histogram_percentile(&stats->latency,
                                                                 bench_report_distribution[i]));
        fprintf(out, "\"stdev\":%.0f,\"samples\":%llu,", histogram_stdev(&stats->latency),
                (unsigned long long)stats->latency.count);
        fprintf(out,
                "\"max\":%llu,\"mean\":%.0f},\"mismatches\":%llu,\"errors\":%llu,\"lost\":%llu,"
                "\"first_error\":",
                (unsigned long long)(stats->latency.count ? stats->latency.max : 0),
                histogram_mean(&stats->latency), (unsigned long long)stats->mismatches,
                (unsigned long long)stats->errors, (unsigned long long)stats->lost);
        if (stats->first_error[0])
                json_write_string(out, stats->first_error);
        else
                fputs("null", out);
        fputs("}\n", out);
}
