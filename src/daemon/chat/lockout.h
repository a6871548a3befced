#ifndef ECHOD_LOCKOUT_H
#define ECHOD_LOCKOUT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The chat's failed-login table: per key (an address group or a user name,
 * chosen by the caller), the failures counted and the password checks
 * still out. A check counts from the moment it is reserved, before any
 * hashing, so that however many connections race, no more than max checks
 * are ever out or failed for one key within the memory time.
 *
 * No clock, no loop, no logging: the caller passes the time (seconds, any
 * monotonic origin) and decides what to say. Bounded: a table holds
 * `size` keys and never allocates after lockout_init().
 */

/* A key's text at most, with its NUL: "a:" and an address group, or "n:" and a name. */
#define LOCKOUT_KEY_MAX 80

struct lockout_entry {
        char key[LOCKOUT_KEY_MAX]; /* "" if free */
        unsigned failed;           /* failures counted */
        unsigned checking;         /* checks reserved and not finished */
        double last;               /* the last failure or reservation */
};

struct lockout_options {
        size_t size;   /* keys the table holds */
        unsigned max;  /* failures and checks out for a key, at most */
        double memory; /* seconds failures are remembered after the last one */
        /*
         * When every slot is live: true refuses a newcomer (-ENOSPC) rather
         * than forget a count (the table of names, whose counts protect
         * victims); false forgets the lowest count, the oldest first (the
         * table of addresses, which an attacker has plenty of anyway).
         */
        bool keep_live;
};

struct lockout_table {
        struct lockout_entry *entries;
        struct lockout_options options;
};

/* Allocate an empty table. Returns 0 or -ENOMEM (or -EINVAL for a size or max of 0). */
int lockout_init(struct lockout_table *table, const struct lockout_options *options);

/* Free what the table holds. */
void lockout_fini(struct lockout_table *table);

/* Failures and checks out for key at time now (0 if none). */
unsigned lockout_count(struct lockout_table *table, const char *key, double now);

/* True if key is at its limit: no check may start. */
bool lockout_locked(struct lockout_table *table, const char *key, double now);

/*
 * Reserve a check for key. Returns 0, -EDQUOT if key is at its limit, or
 * -ENOSPC if the table has no room for a new key (keep_live tables).
 */
int lockout_reserve(struct lockout_table *table, const char *key, double now);

/* A reserved check failed: it becomes a failure. Returns the key's new count. */
unsigned lockout_fail(struct lockout_table *table, const char *key, double now);

/* A reserved check never ran (busy, the store failed): it is forgotten. */
void lockout_release(struct lockout_table *table, const char *key);

/* A failure that was not reserved (a token). Returns the key's new count, or -ENOSPC. */
int lockout_add(struct lockout_table *table, const char *key, double now);

/* A login succeeded: forget key's failures; checks still out stay counted. */
void lockout_clear(struct lockout_table *table, const char *key);

/*
 * Write the key of an address group ("a:...") or of a name ("n:...", in
 * lower case) into key, LOCKOUT_KEY_MAX bytes.
 */
void lockout_address_key(char *key, const char *address_group);
void lockout_name_key(char *key, const char *name);

#endif
