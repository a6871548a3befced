/*
 * libFuzzer target for echod's config parser: any file text gives either a
 * configuration or a one-line error naming file:line, and never a crash, a
 * leak or a read out of bounds.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char error[CONFIG_ERROR_MAX] = "";
        struct config config;
        char *text = malloc(size + 1);
        int r;

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        config_defaults(&config);
        r = config_parse_text(&config, "fuzz.conf", text, error, sizeof(error));
        if (r < 0) {
                /* One line, and it names the file. */
                assert(strchr(error, '\n') == NULL);
                assert(strncmp(error, "fuzz.conf", 9) == 0 || r == -ENOMEM);
        } else {
                assert(config.echo_count <= CONFIG_LISTEN_MAX);
                assert(config.chat_count <= CONFIG_LISTEN_MAX);
        }
        config_fini(&config);
        free(text);
        return 0;
}
