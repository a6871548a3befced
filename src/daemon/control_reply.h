#ifndef ECHOD_CONTROL_REPLY_H
#define ECHOD_CONTROL_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "frame.h"

/*
 * The control replies as they are built: bounded text that grows by whole
 * lines, and is made a valid frame payload (UTF-8, no NUL) before it leaves
 * (control_reply_seal). Every reply the control channel sends is built
 * here, so no command can put anything else on the wire.
 */

/* A reply payload: text starting with "ok" or "error", or a JSON object. */
struct control_reply {
        char text[FRAME_PAYLOAD_MAX + 1];
        size_t length;
        bool full; /* something did not fit and was left out */
};

/* Bytes of a caller's word quoted back in an error, at most (then "..."). */
#define CONTROL_QUOTE_MAX 64
/* Room control_reply_quote() may need. */
#define CONTROL_QUOTE_SIZE (CONTROL_QUOTE_MAX + 4)

/* Empty the reply. */
void control_reply_reset(struct control_reply *reply);

/* Append formatted text; what does not fit is cut back to the last whole line, and marks it full.
 */
void control_reply_append(struct control_reply *reply, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Append text as a JSON string (invalid UTF-8 becomes U+FFFD). */
void control_reply_append_json(struct control_reply *reply, const char *text);

/* Make the reply a valid frame payload: cut at a NUL, '?' for each byte that is not UTF-8. */
void control_reply_seal(struct control_reply *reply);

/* A caller's word for an error text: itself, or its first whole characters and "..." in out. */
const char *control_reply_quote(const char *word, char out[CONTROL_QUOTE_SIZE]);

/* The reply for a refused request ("access denied", "frame too large"), sealed. */
void control_error_reply(bool json, const char *reason, struct control_reply *reply);

/* One streamed record for a "logs -f" follower: the line, or {"record": "..."}; sealed. */
void control_format_record(bool json, const char *line, struct control_reply *reply);

#endif
