#ifndef ECHOD_CHAT_REDIS_SCRIPTS_H
#define ECHOD_CHAT_REDIS_SCRIPTS_H

/*
 * The Lua scripts the Redis chat backend runs with EVAL (0 keys, every
 * argument in ARGV), one per operation that must be atomic. Keys start with
 * "echod:"; users are keyed by the ASCII-lowercased name. Scripts that
 * answer a status return 0 for success, 1 for "no such" (-ENOENT) and 2 for
 * "already there" (-EEXIST).
 */

/* ARGV: lower, name, hash, created_ms. */
extern const char redis_script_user_create[];
/* ARGV: lower, hash. */
extern const char redis_script_user_set_hash[];
/* ARGV: lower. Takes the user's identities and sessions along. */
extern const char redis_script_user_remove[];
/* No ARGV. Returns name, created_ms, name, created_ms, ... ordered by lowercased name. */
extern const char redis_script_user_list[];
/* ARGV: address. Returns the user's spelling, or nil. */
extern const char redis_script_identity_get[];
/* ARGV: address, lower. */
extern const char redis_script_identity_set[];
/* No ARGV. Returns the number of addresses forgotten. */
extern const char redis_script_identity_forget_all[];
/* ARGV: token_hash, lower, created_ms, expires_ms. */
extern const char redis_script_session_create[];
/* ARGV: token_hash, now_ms. */
extern const char redis_script_session_touch[];
/* ARGV: token_hash. */
extern const char redis_script_session_revoke[];
/* ARGV: lower. Returns the number of sessions removed. */
extern const char redis_script_session_revoke_user[];
/*
 * ARGV: history_max, time_ms, name, text, channel, node, sender,
 * deadline_ms. Appends to the history stream and publishes "M ID TIME NODE
 * SENDER NAME TEXT" on channel in one step; returns the stream ID, or an
 * error (LATE) and does nothing once Redis's clock is past deadline_ms.
 */
extern const char redis_script_post[];
/*
 * ARGV: node, lower, name, "1" (online) or "0", ttl_ms, channel, sender.
 * Publishes "J ..." or "L ..." when no other live node has the name.
 */
extern const char redis_script_presence_set[];
/*
 * ARGV: node, ttl_ms, channel, then lower, name pairs: this node's whole
 * set. Renews the node, prunes dead ones (with their LEAVEs) and publishes
 * JOIN or LEAVE for what changed since the set Redis held.
 */
extern const char redis_script_presence_refresh[];
/* ARGV: channel. Returns the names online on any live node, each once. */
extern const char redis_script_who[];

#endif
