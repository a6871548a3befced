#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_backend.h"
#include "redis_reply.h"

/*
 * The relay over Redis pub/sub. A message goes out as one PUBLISH on the
 * backend's channel (by the post script, right after its XADD, so the
 * channel and the history stream agree on order), as text:
 *
 *     KIND ID TIME NODE SENDER NAME TEXT
 *
 * KIND is M, J or L; ID the stream ID ("0" for JOIN and LEAVE); NODE the
 * publishing node ("-" for none); TEXT the rest, any bytes. A subscriber
 * that was away missed what was published meanwhile, so after every
 * subscription the relay reads the history past the last ID it delivered
 * (XRANGE) and delivers that first, holding what the channel brings in the
 * meantime; a message is delivered only if its ID is past the last one,
 * so each arrives once and in order.
 */

struct payload {
        enum bus_kind kind;
        struct redis_stream_id id;
        uint64_t time_ms;
        const char *node;
        size_t node_length;
        uint64_t sender;
        char name[CHAT_NAME_MAX + 1];
        const char *text;
        size_t text_length;
};

/* Cut the next space-separated field from *text (of *length bytes). */
static int next_field(const char **text, size_t *length, const char **field, size_t *field_length)
{
        const char *space = memchr(*text, ' ', *length);

        if (!space)
                return -EBADMSG;
        *field = *text;
        *field_length = (size_t)(space - *text);
        *length -= *field_length + 1;
        *text = space + 1;
        return 0;
}

static int parse_kind(const char *field, size_t length, enum bus_kind *kind)
{
        if (length != 1)
                return -EBADMSG;
        switch (field[0]) {
        case 'M':
                *kind = BUS_MESSAGE;
                return 0;
        case 'J':
                *kind = BUS_JOIN;
                return 0;
        case 'L':
                *kind = BUS_LEAVE;
                return 0;
        case 'E':
                *kind = BUS_END;
                return 0;
        default:
                return -EBADMSG;
        }
}

static int parse_payload(const char *text, size_t length, struct payload *out)
{
        const char *field[6];
        size_t field_length[6];

        for (int i = 0; i < 6; i++)
                if (next_field(&text, &length, &field[i], &field_length[i]) < 0)
                        return -EBADMSG;
        if (parse_kind(field[0], field_length[0], &out->kind) < 0 ||
            redis_parse_u64(field[2], field_length[2], &out->time_ms) < 0 || field_length[3] == 0 ||
            field_length[3] > REDIS_NODE_ID_LENGTH ||
            redis_parse_u64(field[4], field_length[4], &out->sender) < 0 ||
            chat_name_check(field[5], field_length[5]) < 0 || length > CHAT_LINE_MAX)
                return -EBADMSG;
        if (out->kind == BUS_MESSAGE) {
                if (redis_stream_id_parse(field[1], field_length[1], &out->id) < 0)
                        return -EBADMSG;
        } else {
                out->id = (struct redis_stream_id){0, 0};
        }
        out->node = field[3];
        out->node_length = field_length[3];
        memcpy(out->name, field[5], field_length[5]);
        out->name[field_length[5]] = '\0';
        out->text = text;
        out->text_length = length;
        return 0;
}

/* True if id is past the last delivered, which it then becomes. */
static bool advance(struct redis_relay *relay, struct redis_stream_id id)
{
        if (relay->have_last && redis_stream_id_compare(id, relay->last) <= 0)
                return false;
        relay->last = id;
        relay->have_last = true;
        return true;
}

static bool from_this_node(const struct redis_backend *backend, const char *node, size_t length)
{
        return length == REDIS_NODE_ID_LENGTH && memcmp(node, backend->node, length) == 0;
}

static void deliver(struct redis_backend *backend, struct bus_message *message)
{
        char text[CHAT_LINE_MAX + 1];

        if (!backend->relay.deliver)
                return;
        /* The text ends with a NUL for whoever prints it. */
        memcpy(text, message->text, message->text_length);
        text[message->text_length] = '\0';
        message->text = text;
        backend->relay.deliver(backend->relay.context, message);
}

static void deliver_payload(struct redis_backend *backend, const char *data, size_t length)
{
        struct payload payload;
        struct bus_message message;

        if (parse_payload(data, length, &payload) < 0)
                return; /* not ours: another program's message on our channel */
        if (payload.kind == BUS_MESSAGE && !advance(&backend->relay, payload.id))
                return;
        message = (struct bus_message){
            .kind = payload.kind,
            .id = payload.kind == BUS_MESSAGE ? redis_stream_id_to_u64(payload.id) : 0,
            .time_ms = payload.time_ms,
            .sender =
                from_this_node(backend, payload.node, payload.node_length) ? payload.sender : 0,
            .name = payload.name,
            .text = payload.text,
            .text_length = payload.text_length,
        };
        deliver(backend, &message);
}

/* The stream ID of an XRANGE entry, whatever its fields hold. */
static int entry_id(const redisReply *entry, struct redis_stream_id *id)
{
        const redisReply *text;

        if (!entry || entry->type != REDIS_REPLY_ARRAY || entry->elements != 2)
                return -EBADMSG;
        text = entry->element[0];
        if (!text || (text->type != REDIS_REPLY_STRING && text->type != REDIS_REPLY_STATUS))
                return -EBADMSG;
        return redis_stream_id_parse(text->str, text->len, id);
}

static void deliver_entry(struct redis_backend *backend, const redisReply *entry)
{
        struct store_message stored;
        struct bus_message message;
        struct redis_stream_id id;
        const char *node = "";
        uint64_t sender = 0;

        /* A malformed entry is passed over, not read again and again. */
        if (entry_id(entry, &id) < 0 || !advance(&backend->relay, id))
                return;
        if (redis_reply_read_entry(entry, &stored, &node, &sender) < 0 ||
            chat_name_check(stored.name, strlen(stored.name)) < 0)
                return;
        message = (struct bus_message){
            .kind = BUS_MESSAGE,
            .id = stored.id,
            .time_ms = stored.time_ms,
            .sender = from_this_node(backend, node, strlen(node)) ? sender : 0,
            .name = stored.name,
            .text = stored.text,
            .text_length = stored.text_length,
        };
        deliver(backend, &message);
}

static void drop_held(struct redis_relay *relay)
{
        while (relay->held_head) {
                struct redis_held *held = relay->held_head;

                relay->held_head = held->next;
                free(held);
        }
        relay->held_tail = &relay->held_head;
        relay->held_count = 0;
}

/* Keep a relayed message until the catch-up ends; past the limit, read the history again. */
static void hold(struct redis_relay *relay, const char *data, size_t length)
{
        struct redis_held *held;

        if (relay->held_count >= REDIS_HELD_MAX || length > CHAT_LINE_MAX + 128 ||
            !(held = malloc(sizeof(*held) + length))) {
                drop_held(relay);
                relay->held_dropped = true;
                return;
        }
        held->next = NULL;
        held->length = length;
        memcpy(held->payload, data, length);
        *relay->held_tail = held;
        relay->held_tail = &held->next;
        relay->held_count++;
}

static void deliver_held(struct redis_backend *backend)
{
        struct redis_relay *relay = &backend->relay;

        while (relay->held_head && !backend->freeing) {
                struct redis_held *held = relay->held_head;

                relay->held_head = held->next;
                if (!relay->held_head)
                        relay->held_tail = &relay->held_head;
                relay->held_count--;
                deliver_payload(backend, held->payload, held->length);
                free(held);
        }
}

static void read_missed(struct redis_backend *backend);

static void missed_replied(redisAsyncContext *context, void *reply_opaque, void *privdata)
{
        struct redis_backend *backend = privdata;
        struct redis_relay *relay = &backend->relay;
        const redisReply *reply = reply_opaque;

        relay->reading = false;
        if (!reply || backend->freeing)
                return; /* the connection is gone: its return starts another catch-up */
        if (reply->type != REDIS_REPLY_ARRAY) {
                redis_backend_drop(backend, context, "XRANGE: unexpected reply");
                return;
        }
        for (size_t i = 0; i < reply->elements && !backend->freeing; i++)
                deliver_entry(backend, reply->element[i]);
        if (backend->freeing)
                return; /* a delivery freed the store */
        if (reply->elements >= REDIS_CATCH_UP_BATCH || relay->held_dropped || relay->again) {
                if (relay->held_dropped)
                        drop_held(relay);
                relay->held_dropped = false;
                read_missed(backend);
                return;
        }
        relay->catching_up = false;
        deliver_held(backend);
}

/* Read the history past the last delivered ID, a batch at a time. */
static void read_missed(struct redis_backend *backend)
{
        struct redis_relay *relay = &backend->relay;
        char start[48], count[16];
        const char *argv[] = {"XRANGE", "echod:history", start, "+", "COUNT", count};

        snprintf(start, sizeof(start), "(%" PRIu64 "-%" PRIu64, relay->last.ms, relay->last.seq);
        snprintf(count, sizeof(count), "%d", REDIS_CATCH_UP_BATCH);
        relay->again = false;
        if (redis_backend_command(backend, missed_replied, backend, 6, argv, NULL) == 0)
                relay->reading = true;
}

void redis_relay_available(struct redis_backend *backend)
{
        struct redis_relay *relay = &backend->relay;

        relay->catching_up = true;
        relay->again = true;
        if (!relay->reading)
                read_missed(backend);
}

static bool is_string(const redisReply *reply)
{
        return reply->type == REDIS_REPLY_STRING;
}

static bool names(const redisReply *reply, const char *word)
{
        return is_string(reply) && reply->len == strlen(word) &&
               memcmp(reply->str, word, reply->len) == 0;
}

/*
 * One reply on the subscriber: the confirmation of SUBSCRIBE, a message,
 * or the answer to a health PING, each of a shape checked in full. Anything
 * else (an error reply, or what a proxy or another server on that port
 * says) drops the subscriber, which reconnects.
 */
void redis_relay_subscriber_reply(struct redis_backend *backend, const redisReply *reply)
{
        redisReply *const *element = reply->element;
        const char *channel = backend->channel;

        if (backend->freeing)
                return;
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
            names(element[0], "message") && names(element[1], channel) && is_string(element[2])) {
                if (backend->relay.catching_up)
                        hold(&backend->relay, element[2]->str, element[2]->len);
                else
                        deliver_payload(backend, element[2]->str, element[2]->len);
        } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
                   names(element[0], "subscribe") && names(element[1], channel) &&
                   element[2]->type == REDIS_REPLY_INTEGER && backend->relay.subscribe_sent &&
                   !backend->subscriber_ready) {
                redis_backend_subscribed(backend);
        } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
                   names(element[0], "pong") && is_string(element[1]) &&
                   backend->subscriber_ping_out) {
                redis_backend_subscriber_pong(backend);
        } else {
                redis_backend_drop_subscriber(backend, reply->type == REDIS_REPLY_ERROR
                                                           ? "SUBSCRIBE: error reply"
                                                           : "SUBSCRIBE: unexpected reply");
        }
}

/* Subscribe once the history's newest ID is known, so that nothing after it is missed. */
static void subscribe_when_ready(struct redis_backend *backend)
{
        struct redis_relay *relay = &backend->relay;
        const char *argv[] = {"SUBSCRIBE", backend->channel};

        if (!backend->subscriber || !relay->subscriber_connected || !relay->have_last ||
            relay->subscribe_sent)
                return;
        if (redis_backend_subscriber_send(backend, 2, argv) == 0) {
                relay->subscribe_sent = true;
                relay->subscribe_sent_at = ev_time();
        }
}

static void tip_replied(redisAsyncContext *context, void *reply_opaque, void *privdata)
{
        struct redis_backend *backend = privdata;
        struct redis_relay *relay = &backend->relay;
        const redisReply *reply = reply_opaque;
        struct redis_stream_id newest = {0, 0};

        relay->tip_asked = false;
        if (!reply || backend->freeing)
                return;
        /* Only the newest entry's ID matters: what it holds is not read. */
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements > 1 ||
            (reply->elements == 1 && entry_id(reply->element[0], &newest) < 0)) {
                redis_backend_drop(backend, context, "XREVRANGE: unexpected reply");
                return;
        }
        if (!relay->have_last) {
                relay->last = newest;
                relay->have_last = true;
        }
        subscribe_when_ready(backend);
}

void redis_relay_command_ready(struct redis_backend *backend)
{
        struct redis_relay *relay = &backend->relay;
        const char *argv[] = {"XREVRANGE", "echod:history", "+", "-", "COUNT", "1"};

        if (relay->have_last || relay->tip_asked)
                return;
        if (redisAsyncCommandArgv(backend->command, tip_replied, backend, 6, argv, NULL) ==
            REDIS_OK)
                relay->tip_asked = true;
}

void redis_relay_subscriber_connected(struct redis_backend *backend)
{
        backend->relay.subscriber_connected = true;
        backend->relay.catching_up = true;
        subscribe_when_ready(backend);
}

void redis_relay_subscriber_lost(struct redis_backend *backend)
{
        backend->relay.subscriber_connected = false;
        backend->relay.subscribe_sent = false;
        backend->relay.catching_up = true;
}

void redis_relay_fini(struct redis_backend *backend)
{
        drop_held(&backend->relay);
}

static int bus_redis_publish(void *state, const struct bus_message *message)
{
        struct redis_backend *backend = state;
        static const char kinds[] = {
            [BUS_MESSAGE] = 'M', [BUS_JOIN] = 'J', [BUS_LEAVE] = 'L', [BUS_END] = 'E'};
        char head[192], id[48];
        const char *argv[3] = {"PUBLISH", backend->channel};
        size_t lengths[3] = {7, strlen(backend->channel)};
        char *payload;
        int n, r;

        if (!message->name || chat_name_check(message->name, strlen(message->name)) < 0 ||
            message->text_length > CHAT_LINE_MAX || (message->text_length && !message->text) ||
            (message->kind != BUS_MESSAGE && message->kind != BUS_JOIN &&
             message->kind != BUS_LEAVE && message->kind != BUS_END))
                return -EINVAL;
        if (!backend->available)
                return -EAGAIN;
        if (message->kind == BUS_MESSAGE) {
                struct redis_stream_id stream_id = redis_stream_id_from_u64(message->id);

                snprintf(id, sizeof(id), "%" PRIu64 "-%" PRIu64, stream_id.ms, stream_id.seq);
        } else {
                snprintf(id, sizeof(id), "0");
        }
        n = snprintf(head, sizeof(head), "%c %s %" PRIu64 " %s %" PRIu64 " %s ",
                     kinds[message->kind], id, message->time_ms, backend->node, message->sender,
                     message->name);
        if (n < 0 || (size_t)n >= sizeof(head) ||
            !(payload = malloc((size_t)n + message->text_length)))
                return -ENOMEM;
        memcpy(payload, head, (size_t)n);
        if (message->text_length)
                memcpy(payload + n, message->text, message->text_length);
        argv[2] = payload;
        lengths[2] = (size_t)n + message->text_length;
        r = redis_backend_command(backend, NULL, NULL, 3, argv, lengths);
        free(payload);
        return r;
}

static int bus_redis_subscribe(void *state, bus_deliver_fn deliver_fn, void *context)
{
        struct redis_backend *backend = state;

        backend->relay.deliver = deliver_fn;
        backend->relay.context = deliver_fn ? context : NULL;
        return 0;
}

/* The store owns the backend: store_fini() frees it, after bus_fini(). */
static void bus_redis_free(void *state)
{
        (void)state;
}

static const struct bus_ops redis_bus_ops = {
    .kind = "redis",
    .free = bus_redis_free,
    .publish = bus_redis_publish,
    .subscribe = bus_redis_subscribe,
    .presence = redis_presence_set,
    .who = redis_presence_who,
};

void redis_bus_fill(struct redis_backend *backend, struct bus *bus)
{
        bus->ops = &redis_bus_ops;
        bus->state = backend;
}
