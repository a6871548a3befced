#include "lockout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lockout_init(struct lockout_table *table, const struct lockout_options *options)
{
        if (options->size == 0 || options->max == 0)
                return -EINVAL;
        table->entries = calloc(options->size, sizeof(*table->entries));
        if (!table->entries)
                return -ENOMEM;
        table->options = *options;
        return 0;
}

void lockout_fini(struct lockout_table *table)
{
        free(table->entries);
        table->entries = NULL;
}

/* Holds a count that still matters: checks out, or failures not yet forgotten. */
static bool live(const struct lockout_table *table, const struct lockout_entry *entry, double now)
{
        return entry->key[0] && (entry->checking > 0 ||
                                 (entry->failed > 0 && now - entry->last <= table->options.memory));
}

/* Which of two live entries to forget first: the lower count, then the older. */
static bool evict_before(const struct lockout_entry *a, const struct lockout_entry *b)
{
        unsigned count_a = a->failed + a->checking, count_b = b->failed + b->checking;

        return count_a < count_b || (count_a == count_b && a->last < b->last);
}

/*
 * The entry of key; with create, a new one if there is none (NULL when the
 * table has no room). Entries whose counts no longer matter are freed on the
 * way, so they are the first taken.
 */
static struct lockout_entry *find(struct lockout_table *table, const char *key, double now,
                                  bool create)
{
        struct lockout_entry *free_slot = NULL, *victim = NULL;

        for (size_t i = 0; i < table->options.size; i++) {
                struct lockout_entry *entry = &table->entries[i];

                if (entry->key[0] && !live(table, entry, now))
                        entry->key[0] = '\0';
                if (!entry->key[0]) {
                        if (!free_slot)
                                free_slot = entry;
                        continue;
                }
                if (strcmp(entry->key, key) == 0)
                        return entry;
                /* A check out must be found again when it ends: never forgotten. */
                if (entry->checking == 0 && (!victim || evict_before(entry, victim)))
                        victim = entry;
        }
        if (!create)
                return NULL;
        if (!free_slot) {
                /*
                 * Every slot is live. Forgetting one would hand its key fresh
                 * tries, so a table that protects victims refuses the
                 * newcomer instead; the other gives up its least count.
                 */
                if (table->options.keep_live || !victim)
                        return NULL;
                free_slot = victim;
        }
        memset(free_slot, 0, sizeof(*free_slot));
        snprintf(free_slot->key, sizeof(free_slot->key), "%s", key);
        free_slot->last = now;
        return free_slot;
}

unsigned lockout_count(struct lockout_table *table, const char *key, double now)
{
        struct lockout_entry *entry = find(table, key, now, false);

        return entry ? entry->failed + entry->checking : 0;
}

bool lockout_locked(struct lockout_table *table, const char *key, double now)
{
        return lockout_count(table, key, now) >= table->options.max;
}

int lockout_reserve(struct lockout_table *table, const char *key, double now)
{
        struct lockout_entry *entry = find(table, key, now, false);

        if (entry && entry->failed + entry->checking >= table->options.max)
                return -EDQUOT;
        if (!entry)
                entry = find(table, key, now, true);
        if (!entry)
                return -ENOSPC;
        entry->checking++;
        entry->last = now;
        return 0;
}

unsigned lockout_fail(struct lockout_table *table, const char *key, double now)
{
        struct lockout_entry *entry = find(table, key, now, false);

        if (!entry)
                return 0;
        if (entry->checking > 0)
                entry->checking--;
        entry->failed++;
        entry->last = now;
        return entry->failed + entry->checking;
}

void lockout_release(struct lockout_table *table, const char *key)
{
        for (size_t i = 0; i < table->options.size; i++) {
                struct lockout_entry *entry = &table->entries[i];

                if (entry->key[0] && strcmp(entry->key, key) == 0) {
                        if (entry->checking > 0)
                                entry->checking--;
                        return;
                }
        }
}

int lockout_add(struct lockout_table *table, const char *key, double now)
{
        struct lockout_entry *entry = find(table, key, now, true);

        if (!entry)
                return -ENOSPC;
        entry->failed++;
        entry->last = now;
        return (int)(entry->failed + entry->checking);
}

void lockout_clear(struct lockout_table *table, const char *key)
{
        for (size_t i = 0; i < table->options.size; i++) {
                struct lockout_entry *entry = &table->entries[i];

                if (entry->key[0] && strcmp(entry->key, key) == 0) {
                        entry->failed = 0;
                        /* Freed now unless checks of other connections are still out. */
                        if (entry->checking == 0)
                                entry->key[0] = '\0';
                        return;
                }
        }
}

static void make_key(char *key, char kind, const char *value, bool fold)
{
        size_t i;

        key[0] = kind;
        key[1] = ':';
        for (i = 0; value[i] && i + 3 < LOCKOUT_KEY_MAX; i++)
                key[i + 2] =
                    (char)(fold && value[i] >= 'A' && value[i] <= 'Z' ? value[i] - 'A' + 'a'
                                                                      : value[i]);
        key[i + 2] = '\0';
}

void lockout_address_key(char *key, const char *address_group)
{
        make_key(key, 'a', address_group, false);
}

void lockout_name_key(char *key, const char *name)
{
        make_key(key, 'n', name, true);
}
