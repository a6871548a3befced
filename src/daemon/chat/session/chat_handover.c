/*
 * The chat's part of a planned restart (docs/echod.md, "Restarts"): every
 * logged-in connection is carried to the next process with its user, its
 * session, the bytes it had queued both ways and the half-read line, so the
 * user stays logged in, sees no LEAVE or JOIN, and loses no message.
 * Connections still logging in are closed (their clients log in again).
 */
#include "chat_handover.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chat_conn.h"
#include "chat_relay.h"
#include "chat_wait.h" /* what a call still out carries (no call into it) */
#include "log.h"

/* Seconds a connection taken over waits for its store (Redis) before its lines are handled. */
#define CHAT_STORE_WAIT 5.0

#define CHAT_HANDOVER_PEER_CLOSED 0x1
#define CHAT_HANDOVER_DISCARDING  0x2

int chat_hand_over(void *state, struct handover_writer *writer,
                   const struct service_handover *handover)
{
        struct chat_service *chat = state;
        struct chat_conn *conn, *next;
        int handed = 0;

        for (conn = chat->head; conn; conn = next) {
                char input[CHAT_INPUT_MAX];
                size_t input_length = 0, unread = conn->input_end - conn->input_start;
                uint64_t token;
                uint8_t flags = 0;

                next = conn->next;
                /* A store call still out: its reply is dropped, its redo line goes first. */
                if (conn->wait && conn->wait->carried && conn->wait->redo[0])
                        input_length =
                            (size_t)snprintf(input, sizeof(input), "%s\n", conn->wait->redo);
                if (conn->phase != CHAT_PHASE_CHAT || conn->job ||
                    (conn->wait && !conn->wait->carried) || conn->overflowed ||
                    input_length + unread > sizeof(input)) {
                        chat_sendf(conn, "BYE server restarting; log in again\n");
                        chat_close(conn, "restart while logging in");
                        continue;
                }
                ev_io_stop(chat->loop, &conn->read_watcher);
                ev_io_stop(chat->loop, &conn->write_watcher);
                if (handover->store_fd(handover->server, conn->fd, &token) < 0) {
                        chat_close(conn, "restart: cannot hand the connection over");
                        continue;
                }
                if (conn->peer_closed)
                        flags |= CHAT_HANDOVER_PEER_CLOSED;
                if (conn->reader.discarding)
                        flags |= CHAT_HANDOVER_DISCARDING;
                handover_record_begin(writer, HANDOVER_CHAT);
                handover_put_u64(writer, token);
                handover_put_u8(writer, flags);
                handover_put_bytes(writer, conn->name, strlen(conn->name));
                handover_put_bytes(writer, conn->token_hash, strlen(conn->token_hash));
                handover_put_u64(writer, conn->bytes_in);
                handover_put_u64(writer, conn->bytes_out);
                handover_put_u64(writer, conn->messages);
                handover_put_u64(writer, (uint64_t)(conn->started * 1e6));
                handover_put_u64(writer, (uint64_t)(conn->flood_tokens * 1000));
                handover_put_bytes(writer, conn->output + conn->output_start,
                                   conn->output_end - conn->output_start);
                memcpy(input + input_length, conn->input + conn->input_start, unread);
                handover_put_bytes(writer, input, input_length + unread);
                /* A line already handed out (ready) is done with: only a partial one goes. */
                handover_put_bytes(writer, conn->reader.text,
                                   conn->reader.ready ? 0 : conn->reader.length);
                handover_record_end(writer);
                /* No LEAVE: the user is still here, served by the next process. */
                if (conn->counted == CHAT_COUNT_ONLINE)
                        chat->online--;
                conn->counted = CHAT_COUNT_NONE;
                chat_conn_forget(conn);
                handed++;
        }
        return handed;
}

static int get_text(struct handover_record *record, char *out, size_t size)
{
        const unsigned char *bytes;
        size_t length;

        if (handover_get_bytes(record, &bytes, &length) < 0 || length >= size)
                return -EBADMSG;
        memcpy(out, bytes, length);
        out[length] = '\0';
        return (int)length;
}

int chat_take_over(void *state, struct handover_record *record, int fd)
{
        struct chat_service *chat = state;
        struct sockaddr_storage peer = {0};
        socklen_t peer_length = sizeof(peer);
        char name[CHAT_NAME_MAX + 1], token_hash[AUTH_TOKEN_HASH_TEXT_SIZE];
        const unsigned char *output, *input, *line;
        size_t output_length, input_length, line_length;
        uint64_t bytes_in, bytes_out, messages, started_us, flood;
        struct chat_conn *conn;
        uint8_t flags;
        int name_length, fd_flags;

        if (handover_get_u8(record, &flags) < 0 ||
            (name_length = get_text(record, name, sizeof(name))) < 0 ||
            chat_name_check(name, (size_t)name_length) < 0 ||
            get_text(record, token_hash, sizeof(token_hash)) < 0 ||
            handover_get_u64(record, &bytes_in) < 0 || handover_get_u64(record, &bytes_out) < 0 ||
            handover_get_u64(record, &messages) < 0 || handover_get_u64(record, &started_us) < 0 ||
            handover_get_u64(record, &flood) < 0 ||
            handover_get_bytes(record, &output, &output_length) < 0 ||
            handover_get_bytes(record, &input, &input_length) < 0 ||
            handover_get_bytes(record, &line, &line_length) < 0 ||
            output_length > chat->config->chat_output_max || input_length > CHAT_INPUT_MAX ||
            line_length > CHAT_LINE_MAX + 1) {
                close(fd);
                return -EBADMSG;
        }
        fd_flags = fcntl(fd, F_GETFL);
        if (getpeername(fd, (struct sockaddr *)&peer, &peer_length) < 0 || fd_flags < 0 ||
            fcntl(fd, F_SETFL, fd_flags | O_NONBLOCK) < 0) {
                int error = -errno;

                close(fd);
                return error;
        }
        conn = chat_conn_new(chat, fd, (struct sockaddr *)&peer, peer_length);
        if (!conn)
                return -ENOMEM;
        memcpy(conn->name, name, sizeof(name));
        memcpy(conn->token_hash, token_hash, sizeof(token_hash));
        conn->bytes_in = bytes_in;
        conn->bytes_out = bytes_out;
        conn->messages = messages;
        conn->started = (ev_tstamp)started_us / 1e6;
        conn->flood_tokens = (double)flood / 1000;
        conn->peer_closed = flags & CHAT_HANDOVER_PEER_CLOSED;
        conn->reader.discarding = flags & CHAT_HANDOVER_DISCARDING;
        memcpy(conn->reader.text, line, line_length);
        conn->reader.length = line_length;
        memcpy(conn->input, input, input_length);
        conn->input_end = input_length;
        conn->phase = CHAT_PHASE_CHAT;
        conn->counted = CHAT_COUNT_ONLINE;
        chat->online++;
        /* No JOIN (the user never left), but a bus across nodes learns who is here now. */
        chat_relay_online(conn, false);
        if (output_length > 0)
                chat_send(conn, (const char *)output, output_length);
        /*
         * The next process's store may not be up yet (Redis connects on the
         * loop): lines handled now would be refused, so they wait for it.
         */
        if (!store_available(&chat->store)) {
                /* chat_take_over_store_up() goes on; the timer bounds the wait. */
                conn->awaiting_store = true;
                chat_conn_timer(conn, CHAT_STORE_WAIT);
                return 0;
        }
        /* Lines read but not yet handled go first; then the socket is read again. */
        chat_resume_input(conn);
        return 0;
}

/* Its lines wait no longer: handle what was read, then read the socket again. */
static void store_wait_over(struct chat_conn *conn)
{
        conn->awaiting_store = false;
        ev_timer_stop(conn->chat->loop, &conn->timer);
        chat_resume_input(conn);
}

void chat_take_over_timeout(struct chat_conn *conn)
{
        /* Past the wait the lines go on anyway, and get the store's error. */
        store_wait_over(conn);
}

void chat_take_over_store_up(struct chat_service *chat)
{
        struct chat_conn *conn, *next;

        /* Handling a line never frees a connection (it closes after a flush); next is read first
         * all the same. */
        for (conn = chat->head; conn; conn = next) {
                next = conn->next;
                if (conn->awaiting_store)
                        store_wait_over(conn);
        }
}
