/* echod: the echo daemon. All the work is in the daemon library (src/daemon). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "escape.h"
#include "file.h"
#include "log.h"
#include "restart.h"
#include "server.h"

int main(int argc, char **argv)
{
        struct config config;
        struct server server;
        enum config_action action;
        char error[CONFIG_ERROR_MAX];
        int r, status;

        log_init("echod");
        /* The unit's ExecStop=+ (restart.h): tell the daemon whether a restart or a stop comes. */
        if (argc == 2 && strcmp(argv[1], "--announce-stop") == 0) {
                r = restart_announce_stop();
                if (r < 0)
                        fprintf(stderr, "echod: --announce-stop: %s; the daemon will drain\n",
                                strerror(-r));
                return EXIT_OK;
        }
        /*
         * The pre-flight of an upgrade in place (docs/echod.md): the running
         * echod runs the new binary so; reaching here proves its libraries
         * load, and the answer says whether it reads the state it would get.
         */
        if (argc == 3 && strcmp(argv[1], "--check-upgrade") == 0) {
                r = restart_check_state_version(argv[2]);
                if (r == -EINVAL) {
                        fprintf(stderr, "echod: --check-upgrade: not a state version: %s\n",
                                argv[2]);
                        return EXIT_USAGE;
                }
                if (r < 0) {
                        fprintf(stderr,
                                "echod: --check-upgrade: this binary does not read hand-over "
                                "state version %s\n",
                                argv[2]);
                        return EXIT_FAILED;
                }
                return EXIT_OK;
        }
        config_defaults(&config);
        if (config_load(&config, argc, argv, &action, error, sizeof(error)) < 0) {
                fprintf(stderr, "echod: %s\n", error);
                config_fini(&config);
                return EXIT_USAGE;
        }
        if (action != CONFIG_RUN) {
                if (action == CONFIG_HELP)
                        config_usage();
                else
                        cli_print_version("echod");
                config_fini(&config);
                return EXIT_OK;
        }
        if (config.check_only) {
                /* Only an explicit --config must exist; a missing default file means defaults. */
                printf("echod: configuration OK (%s%s)\n", config.config_path,
                       access(config.config_path, F_OK) == 0 ? ""
                                                             : " does not exist: defaults apply");
                config_fini(&config);
                return EXIT_OK;
        }
        log_set_level(config.log_level);
        r = log_set_file(config.log_file);
        if (r < 0) {
                char path[ESCAPE_SIZE(256)];

                fprintf(stderr, "echod: cannot open log file %s: %s\n",
                        escape_control(config.log_file, path, sizeof(path)), file_strerror(r));
                config_fini(&config);
                return EXIT_FAILED;
        }

        status = EXIT_FAILED;
        if (server_init(&server, &config, argc, argv) == 0)
                status = server_run(&server);
        server_fini(&server);
        log_fini();
        return status;
}
