/*
 * libFuzzer target for the control frame decoder (src/proto/frame.c) and the
 * replies echod frames (src/daemon/control_commands.c). The input is split
 * into pieces whose sizes come from the input itself, so the decoder sees
 * the same stream cut at many places; every frame it accepts must be within
 * the limits, valid text, and encode back to the bytes it came from. Each
 * accepted frame, and the input itself as one raw line (the console passes
 * what the terminal gave), then goes to the command dispatcher, with a chat
 * and log records that hand it the input's bytes too: every reply must be a
 * valid frame, UTF-8 text whatever went in.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_commands.h"
#include "frame.h"
#include "log.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct frame_decoder decoder, reply_decoder;
static unsigned char encoded[FRAME_HEADER_SIZE + FRAME_PAYLOAD_MAX];
static struct control_reply reply;
static struct log_ring logs;
/* The input's bytes as the fake chat's user names: anything a store might hold. */
static char names[4][300];

static double fake_uptime(void *server)
{
        (void)server;
        return 1;
}

static size_t fake_count(void *server)
{
        (void)server;
        return 2;
}

static void fake_info(void *server, size_t index, struct control_service_info *info)
{
        (void)server;
        memset(info, 0, sizeof(*info));
        info->name = index ? "chat" : "echo";
        snprintf(info->sockets, sizeof(info->sockets), "%s", names[index]);
        snprintf(info->status, sizeof(info->status), "%s", names[index + 2]);
}

static int fake_set_paused(void *server, const char *name, bool paused)
{
        (void)server;
        (void)paused;
        return strcmp(name, "echo") == 0 ? 0 : -ENOENT;
}

static void fake_shutdown(void *server, const char *who)
{
        (void)server;
        (void)who;
}

static int fake_reload(void *server, char *error, size_t size)
{
        (void)server;
        /* A reason from a file's text: bytes that may not be UTF-8. */
        snprintf(error, size, "%s", names[0]);
        return -EINVAL;
}

static int chat_forget(void *state)
{
        (void)state;
        return 2;
}

static int chat_list(void *state, void (*each)(void *, const char *, unsigned), void *arg)
{
        (void)state;
        for (unsigned i = 0; i < 4; i++)
                each(arg, names[i], i);
        return 0;
}

static int chat_remove(void *state, const char *name)
{
        (void)state;
        return name[0] == 'a' ? -EINVAL : -ENOENT;
}

static int chat_kick(void *state, const char *name)
{
        (void)state;
        return name[0] == 'a' ? -EIO : -ENOENT;
}

static unsigned chat_logged_in(void *state)
{
        (void)state;
        return 3;
}

static const struct control_chat_admin chat_admin = {
    .forget_identities = chat_forget,
    .list_users = chat_list,
    .remove_user = chat_remove,
    .kick = chat_kick,
    .logged_in = chat_logged_in,
};

static const struct control_chat_admin *fake_chat(void *server, void **state)
{
        *state = server;
        return &chat_admin;
}

static const struct control_host host = {
    .logs = &logs,
    .uptime = fake_uptime,
    .service_count = fake_count,
    .service_info = fake_info,
    .set_paused = fake_set_paused,
    .shutdown = fake_shutdown,
    .reload = fake_reload,
    .chat_admin = fake_chat,
};

/* The reply is what echod sends: a frame that decodes back to itself. */
static void check_reply(void)
{
        size_t used, length;
        int n;

        assert(reply.length <= FRAME_PAYLOAD_MAX);
        assert(strlen(reply.text) == reply.length);
        assert(utf8_validate(reply.text, reply.length) == 0);
        n = frame_encode(reply.text, reply.length, encoded, sizeof(encoded));
        assert(n == (int)(FRAME_HEADER_SIZE + reply.length));
        frame_decoder_init(&reply_decoder);
        assert(frame_decoder_feed(&reply_decoder, encoded, (size_t)n, &used) == FRAME_READY);
        assert(used == (size_t)n);
        assert(memcmp(frame_decoder_payload(&reply_decoder, &length), reply.text, reply.length) ==
               0);
        assert(length == reply.length);
}

static void dispatch(const char *line)
{
        static const struct control_caller caller = {.uid = 0, .pid = 1, .channel = "fuzz"};
        struct control_outcome outcome;

        control_execute(&host, &caller, line, &reply, &outcome);
        check_reply();
        control_error_reply(outcome.json, line, &reply);
        check_reply();
        control_format_record(outcome.json, line, &reply);
        check_reply();
}

/* Feed the dispatcher the raw input, as one line and through the chat's names and the records. */
static void dispatch_raw(const uint8_t *data, size_t size)
{
        static char line[2048];
        struct log_entry entry = {.priority = LOG_INFO, .message = line};
        size_t length = size < sizeof(line) - 1 ? size : sizeof(line) - 1;

        memcpy(line, data, length);
        line[length] = '\0';
        for (size_t i = 0; i < 4; i++) {
                size_t start = i * (sizeof(names[i]) - 1);
                size_t n = start < length ? length - start : 0;

                n = n < sizeof(names[i]) - 1 ? n : sizeof(names[i]) - 1;
                memcpy(names[i], line + start, n);
                names[i][n] = '\0';
        }
        log_ring_clear(&logs);
        log_ring_sink(&logs, &entry);
        dispatch(line);
        dispatch("users");
        dispatch("--json users");
        dispatch("status");
        dispatch("--json status");
        dispatch("logs");
        dispatch("reload");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        size_t step, offset = 0, frame_start = 0;

        if (size == 0)
                return 0;
        log_set_level(LOG_EMERG); /* the commands log their actions: keep the fuzzer's output */
        /* The first byte picks the piece size (1 to 256 bytes). */
        step = (size_t)data[0] + 1;
        data++;
        size--;
        dispatch_raw(data, size);
        frame_decoder_init(&decoder);
        while (offset < size) {
                size_t piece = size - offset < step ? size - offset : step, used = 0, length;
                const char *payload;
                int r = frame_decoder_feed(&decoder, data + offset, piece, &used);

                assert(used <= piece);
                offset += used;
                if (r < 0) {
                        assert(r == -EMSGSIZE || r == -EILSEQ);
                        break;
                }
                if (r == FRAME_NEED_MORE) {
                        assert(used == piece);
                        continue;
                }
                payload = frame_decoder_payload(&decoder, &length);
                assert(length <= FRAME_PAYLOAD_MAX);
                assert(strlen(payload) == length);
                assert(utf8_validate(payload, length) == 0);
                assert(frame_encode(payload, length, encoded, sizeof(encoded)) ==
                       (int)(FRAME_HEADER_SIZE + length));
                assert(offset - frame_start == FRAME_HEADER_SIZE + length);
                assert(memcmp(encoded, data + frame_start, FRAME_HEADER_SIZE + length) == 0);
                /* What echod does with a frame: answer it. */
                dispatch(payload);
                frame_start = offset;
                frame_decoder_reset(&decoder);
        }
        return 0;
}
