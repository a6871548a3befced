#include "bench_report.h"
#include "json.h"

#include "units.h"

const double bench_report_percentiles[BENCH_REPORT_PERCENTILES] = {50.0, 90.0, 99.0, 99.9};
static const char *const percentile_names[BENCH_REPORT_PERCENTILES] = {"p50", "p90", "p99",
                                                                       "p99.9"};

static double seconds(const struct bench_stats *stats)
{
        return stats->elapsed_ns ? (double)stats->elapsed_ns / 1e9 : 1.0;
}

void bench_report_text(FILE *out, const struct bench_options *opts, const char *target,
                       const struct bench_stats *stats)
{
        double secs = seconds(stats);
        char text[32];

        fprintf(out,
                "target       %s %s, %u connections, %zu-byte messages, pipeline %u, %u thread%s\n",
                opts->udp ? "udp" : "tcp", target, opts->connections, opts->message_size,
                opts->pipeline, opts->threads, opts->threads == 1 ? "" : "s");
        fprintf(out, "duration     %.2fs, %llu connections up\n", secs,
                (unsigned long long)stats->connected);
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
}


void bench_report_json(FILE *out, const struct bench_options *opts, const char *target,
                       const struct bench_stats *stats)
{
        double secs = seconds(stats);

        fprintf(out, "{\"target\":");
        json_write_string(out, target);
        fprintf(out,
                ",\"protocol\":\"%s\",\"connections\":%u,\"message_size\":%zu,\"pipeline\":%u,"
                "\"threads\":%u,\"duration_s\":%.3f,\"connected\":%llu,\"requests\":%llu,"
                "\"requests_per_s\":%.1f,\"mib_per_s\":%.3f,\"latency_ns\":{",
                opts->udp ? "udp" : "tcp", opts->connections, opts->message_size, opts->pipeline,
                opts->threads, secs, (unsigned long long)stats->connected,
                (unsigned long long)stats->requests, (double)stats->requests / secs,
                (double)stats->bytes / secs / (1024.0 * 1024.0));
        for (int i = 0; i < BENCH_REPORT_PERCENTILES; i++)
                fprintf(out, "\"%s\":%llu,", percentile_names[i],
                        (unsigned long long)histogram_percentile(&stats->latency,
                                                                 bench_report_percentiles[i]));
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
