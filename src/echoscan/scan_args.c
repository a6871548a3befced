#include "scan_args.h"

#include "cli.h"
#include "scan.h"
#include "units.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

const char scan_args_usage[] =
    "Usage: echoscan [OPTIONS] HOST...\n"
    "TCP connect scan of HOST (a name, an address or a CIDR block).\n"
    "By default every port, 1-65535, is scanned and the open ones are listed.\n"
    "\n"
    "Ports and targets:\n"
    "  -p, --ports PORTS      ports to scan: 22,80,1000-2000; - for all (default 1-65535)\n"
    "      --top-ports N      the N ports most often open (nmap-services, else a built-in list)\n"
    "  -iL FILE               read more hosts from FILE (blank-separated, # comments; - is stdin)\n"
    "      --exclude HOSTS    leave out these hosts or CIDR blocks (comma-separated)\n"
    "  -4, -6                 IPv4 or IPv6 addresses only\n"
    "Timing:\n"
    "  -T0 .. -T5             timing template: paranoid, sneaky, polite, normal (default),\n"
    "                         aggressive, insane (see echoscan(1) for the table)\n"
    "  -c, --concurrency N    connects in flight at most (default: the open-file limit)\n"
    "  -t, --timeout TIME     time one attempt may take: 500ms, 2s (default 1s)\n"
    "  -r, --retries N        further attempts for ports that timed out (default 1)\n"
    "      --max-rate R       start at most R connects per second\n"
    "      --min-rate R       keep enough connects in flight for R per second\n"
    "      --no-io-uring      one connect() call at a time, even where io_uring works\n"
    "Output:\n"
    "  -o, --output FORMAT    standard output as plain (default), json or grep\n"
    "  -oN FILE, -oX FILE, -oG FILE\n"
    "                         also write nmap's normal, XML or grepable format to FILE (- for "
    "stdout)\n"
    "  -oA BASE               all three, to BASE.nmap, BASE.xml and BASE.gnmap\n"
    "  -a, --all              report every port: open, closed and filtered\n"
    "      --open             report open ports only (in every format)\n"
    "  -v, --verbose          report open ports as they are found; more detail in nmap formats\n"
    "  -q, --quiet            no progress bar and no summary on stderr\n"
    "  -h, --help             show this help\n"
    "  -V, --version          show the version\n"
    "\n"
    "Exit status: 0 scan done, 1 a host seems down or the scan failed, 2 usage error,\n"
    "130 interrupted (Ctrl-C: what was found so far is still reported).\n";

/* -T0..-T5: what each template sets, unless an explicit option says otherwise. */
static const struct {
        unsigned concurrency; /* 0: the open-file limit */
        double timeout, max_rate;
        unsigned retries;
} templates[6] = {
    {1, 5.0, 1.0 / 300, 2}, /* paranoid: one probe every 5 minutes */
    {1, 5.0, 1.0 / 15, 2},  /* sneaky: one every 15 seconds */
    {10, 2.0, 2.5, 2},      /* polite: one every 0.4 seconds */
    {0, 1.0, 0, 1},         /* normal */
    {0, 0.5, 0, 1},         /* aggressive */
    {0, 0.25, 0, 0},        /* insane */
};

enum {
        OPT_NO_URING = 256,
        OPT_OPEN,
        OPT_TOP_PORTS,
        OPT_EXCLUDE,
        OPT_MAX_RATE,
        OPT_MIN_RATE,
        OPT_INPUT_LIST,
        OPT_FILE_NORMAL,
        OPT_FILE_XML,
        OPT_FILE_GREPABLE,
        OPT_FILE_ALL,
};

static int parse_duration(const char *text, double *seconds)
{
        uint64_t ns;

        if (units_parse_duration(text, &ns) < 0 || ns < 1000000 || ns > 3600 * 1000000000ull)
                return -EINVAL;
        *seconds = (double)ns / 1e9;
        return 0;
}

static int parse_count(const char *text, unsigned long min, unsigned long max, unsigned *out)
{
        unsigned long value;

        if (units_parse_uint(text, min, max, &value) < 0)
                return -EINVAL;
        *out = (unsigned)value;
        return 0;
}

static int add_file(struct scan_args *args, enum report_nmap_format format, const char *path,
                    char *owned)
{
        if (args->nfiles == SCAN_ARGS_MAX_FILES) {
                free(owned);
                return -E2BIG;
        }
        args->files[args->nfiles++] = (struct scan_args_file){format, path, owned};
        return 0;
}

static int add_all_files(struct scan_args *args, const char *base)
{
        static const struct {
                enum report_nmap_format format;
                const char *suffix;
        } kinds[] = {{REPORT_NMAP_NORMAL, ".nmap"},
                     {REPORT_NMAP_XML, ".xml"},
                     {REPORT_NMAP_GREPABLE, ".gnmap"}};

        for (size_t i = 0; i < 3; i++) {
                size_t len = strlen(base) + strlen(kinds[i].suffix) + 1;
                char *path = malloc(len);
                int r;

                if (!path)
                        return -ENOMEM;
                snprintf(path, len, "%s%s", base, kinds[i].suffix);
                r = add_file(args, kinds[i].format, path, path);
                if (r < 0)
                        return r;
        }
        return 0;
}

/*
 * nmap spells some options with one dash and two letters (-oN, -oX, -oG,
 * -oA, -iL), which getopt would read as -o N. Give them their long names
 * first; "-oN FILE" and "-oNFILE" both work, as in nmap.
 */
static void rename_nmap_options(int argc, char **argv, char **renamed, size_t nrenamed)
{
        static const char *const names[][2] = {
            {"-oN", "--oN"}, {"-oX", "--oX"}, {"-oG", "--oG"}, {"-oA", "--oA"}, {"-iL", "--iL"},
        };
        size_t used = 0;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0)
                        break;
                for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
                        size_t len = strlen(names[n][0]);

                        if (strncmp(argv[i], names[n][0], len) != 0)
                                continue;
                        if (argv[i][len] == '\0') {
                                argv[i] = (char *)names[n][1];
                        } else if (used < nrenamed) {
                                size_t size = strlen(argv[i]) + 3;

                                renamed[used] = malloc(size);
                                if (renamed[used]) {
                                        snprintf(renamed[used], size, "%s=%s", names[n][1],
                                                 argv[i] + len);
                                        argv[i] = renamed[used++];
                                }
                        }
                        break;
                }
        }
}

int scan_args_parse(int argc, char **argv, struct scan_args *args, char *error, size_t size)
{
        static const struct option longopts[] = {
            {"ports", required_argument, NULL, 'p'},
            {"concurrency", required_argument, NULL, 'c'},
            {"timeout", required_argument, NULL, 't'},
            {"retries", required_argument, NULL, 'r'},
            {"all", no_argument, NULL, 'a'},
            {"output", required_argument, NULL, 'o'},
            {"quiet", no_argument, NULL, 'q'},
            {"verbose", no_argument, NULL, 'v'},
            {"no-io-uring", no_argument, NULL, OPT_NO_URING},
            {"open", no_argument, NULL, OPT_OPEN},
            {"top-ports", required_argument, NULL, OPT_TOP_PORTS},
            {"exclude", required_argument, NULL, OPT_EXCLUDE},
            {"max-rate", required_argument, NULL, OPT_MAX_RATE},
            {"min-rate", required_argument, NULL, OPT_MIN_RATE},
            {"iL", required_argument, NULL, OPT_INPUT_LIST},
            {"oN", required_argument, NULL, OPT_FILE_NORMAL},
            {"oX", required_argument, NULL, OPT_FILE_XML},
            {"oG", required_argument, NULL, OPT_FILE_GREPABLE},
            {"oA", required_argument, NULL, OPT_FILE_ALL},
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'},
            {NULL, 0, NULL, 0},
        };
        /* Which options were given, so the template does not override them. */
        bool set_concurrency = false, set_timeout = false, set_retries = false, set_rate = false;
        static char *renamed[16];
        int c, r;

        memset(args, 0, sizeof(*args));
        args->timing = 3;
        rename_nmap_options(argc, argv, renamed, sizeof(renamed) / sizeof(renamed[0]));
        opterr = 0;
        optind = 1;
        while ((c = getopt_long(argc, argv, ":p:c:t:r:ao:qvT:46hV", longopts, NULL)) != -1) {
                switch (c) {
                case 'p':
                        args->ports = optarg;
                        break;
                case 'c':
                        if (parse_count(optarg, 1, 1u << 20, &args->concurrency) < 0)
                                return cli_error(error, size,
                                                 "bad concurrency '%s': want 1-1048576", optarg);
                        set_concurrency = true;
                        break;
                case 't':
                        if (parse_duration(optarg, &args->timeout) < 0)
                                return cli_error(error, size,
                                                 "bad timeout '%s': want e.g. 500ms or 2s", optarg);
                        set_timeout = true;
                        break;
                case 'r':
                        if (parse_count(optarg, 0, SCAN_MAX_RETRIES, &args->retries) < 0)
                                return cli_error(error, size, "bad retries '%s': want 0-15",
                                                 optarg);
                        set_retries = true;
                        break;
                case 'a':
                        args->all = true;
                        break;
                case 'o':
                        if (report_format_parse(optarg, &args->format) < 0)
                                return cli_error(error, size,
                                                 "bad output format '%s': want plain, json or grep "
                                                 "(or -oN, -oX, -oG FILE, -oA BASE)",
                                                 optarg);
                        break;
                case 'q':
                        args->quiet = true;
                        break;
                case 'v':
                        args->verbose++;
                        break;
                case 'T':
                        if (optarg[0] < '0' || optarg[0] > '5' || optarg[1] != '\0')
                                return cli_error(error, size,
                                                 "bad timing template '-T%s': want -T0 to -T5",
                                                 optarg);
                        args->timing = optarg[0] - '0';
                        break;
                case OPT_NO_URING:
                        args->no_uring = true;
                        break;
                case OPT_OPEN:
                        args->open_only = true;
                        break;
                case OPT_TOP_PORTS:
                        if (parse_count(optarg, 1, 65535, &args->top_ports) < 0)
                                return cli_error(error, size, "bad --top-ports '%s': want 1-65535",
                                                 optarg);
                        break;
                case OPT_EXCLUDE:
                case OPT_INPUT_LIST: {
                        const char **list = c == OPT_EXCLUDE ? args->excludes : args->input_lists;
                        size_t *n = c == OPT_EXCLUDE ? &args->nexcludes : &args->ninput_lists;

                        if (*n == SCAN_ARGS_MAX_LISTS)
                                return cli_error(error, size, "too many %s options (at most %d)",
                                                 c == OPT_EXCLUDE ? "--exclude" : "-iL",
                                                 SCAN_ARGS_MAX_LISTS);
                        list[(*n)++] = optarg;
                        break;
                }
                case OPT_MAX_RATE:
                case OPT_MIN_RATE: {
                        double rate;

                        if (units_parse_double(optarg, 0, 1e7, &rate) < 0 || rate <= 0)
                                return cli_error(
                                    error, size, "bad %s '%s': want probes per second, above 0",
                                    c == OPT_MAX_RATE ? "--max-rate" : "--min-rate", optarg);
                        if (c == OPT_MAX_RATE) {
                                args->max_rate = rate;
                                set_rate = true;
                        } else {
                                args->min_rate = rate;
                        }
                        break;
                }
                case OPT_FILE_NORMAL:
                case OPT_FILE_XML:
                case OPT_FILE_GREPABLE:
                        r = add_file(args,
                                     c == OPT_FILE_NORMAL ? REPORT_NMAP_NORMAL
                                     : c == OPT_FILE_XML  ? REPORT_NMAP_XML
                                                          : REPORT_NMAP_GREPABLE,
                                     optarg, NULL);
                        if (r < 0)
                                return cli_error(error, size, "too many output files (at most %d)",
                                                 SCAN_ARGS_MAX_FILES);
                        break;
                case OPT_FILE_ALL:
                        if (strcmp(optarg, "-") == 0)
                                return cli_error(error, size, "-oA needs a base name, not -");
                        if (add_all_files(args, optarg) < 0)
                                return cli_error(error, size, "too many output files (at most %d)",
                                                 SCAN_ARGS_MAX_FILES);
                        break;
                case '4':
                        args->family = AF_INET;
                        break;
                case '6':
                        args->family = AF_INET6;
                        break;
                case 'h':
                        args->action = SCAN_ACTION_HELP;
                        return 0;
                case 'V':
                        args->action = SCAN_ACTION_VERSION;
                        return 0;
                default:
                        return cli_getopt_error(c, argv, error, size);
                }
        }
        if (args->ports && args->top_ports)
                return cli_error(error, size, "-p and --top-ports cannot be used together");
        if (args->min_rate > 0 && args->max_rate > 0 && args->min_rate > args->max_rate)
                return cli_error(error, size, "--min-rate is above --max-rate");
        if (!set_concurrency)
                args->concurrency = templates[args->timing].concurrency;
        if (!set_timeout)
                args->timeout = templates[args->timing].timeout;
        if (!set_retries)
                args->retries = templates[args->timing].retries;
        if (!set_rate)
                args->max_rate = templates[args->timing].max_rate;
        args->hosts = argv + optind;
        args->nhosts = (size_t)(argc - optind);
        if (args->nhosts == 0 && args->ninput_lists == 0)
                return cli_error(error, size, "no host given");
        return 0;
}

void scan_args_fini(struct scan_args *args)
{
        for (size_t i = 0; i < args->nfiles; i++)
                free(args->files[i].owned);
        args->nfiles = 0;
}
