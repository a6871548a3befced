/*
 * What a chat connection says: the login dialogue (HELLO/NAME?, PASSWORD?,
 * /name, /token), the password jobs on the worker pool, and the commands and
 * messages after login. docs/chat.md describes the protocol for users.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "chat_internal.h"
#include "log.h"

enum chat_job_kind {
        CHAT_JOB_VERIFY,   /* check a password; rehash it if the cost changed */
        CHAT_JOB_REGISTER, /* hash the password of a new user */
        CHAT_JOB_CHANGE,   /* hash a new password (/password) */
};

/* A password job: everything the worker needs is copied in, so it touches nothing else. */
struct chat_job {
        struct chat_conn *conn; /* never touched when the job is cancelled */
        enum chat_job_kind kind;
        struct auth_params params;
        char password[AUTH_PASSWORD_MAX + 1];
        size_t password_length;
        char hash[AUTH_HASH_SIZE];     /* in: the stored hash; out: a new hash */
        char new_hash[AUTH_HASH_SIZE]; /* VERIFY: a fresh hash when the cost changed */
        bool rehashed;
        int result;
};

static void prompt_name(struct chat_conn *conn)
{
        conn->phase = CHAT_PHASE_NAME;
        conn->name[0] = '\0';
        chat_send(conn, "NAME?\n", 6);
}

static void prompt_password(struct chat_conn *conn)
{
        conn->phase = CHAT_PHASE_PASSWORD;
        chat_send(conn, "PASSWORD?\n", 10);
}

static void prompt(struct chat_conn *conn, enum chat_phase phase)
{
        if (phase == CHAT_PHASE_PASSWORD && conn->name[0])
                prompt_password(conn);
        else
                prompt_name(conn);
}

static void failure_key(char *key, size_t size, char kind, const char *value)
{
        size_t i;

        key[0] = kind;
        key[1] = ':';
        for (i = 0; value[i] && i + 3 < size; i++)
                key[i + 2] =
                    (char)(kind == 'n' && value[i] >= 'A' && value[i] <= 'Z' ? value[i] - 'A' + 'a'
                                                                             : value[i]);
        key[i + 2] = '\0';
}

/* Failures counted for the connection's address and, when it has one, its name. */
static unsigned failures_of(struct chat_conn *conn)
{
        char key[sizeof(((struct chat_failure *)0)->key)];
        unsigned by_address, by_name = 0;

        failure_key(key, sizeof(key), 'a', conn->address);
        by_address = chat_failures(conn->chat, key);
        if (conn->name[0]) {
                failure_key(key, sizeof(key), 'n', conn->name);
                by_name = chat_failures(conn->chat, key);
        }
        return by_address > by_name ? by_address : by_name;
}

static void lock_out(struct chat_conn *conn)
{
        chat_sendf(conn, "ERR too many failed logins; try again later\n");
        chat_close_after_flush(conn, "too many failed logins");
}

/* A wrong password or token: count it, say so, and pause before the next prompt. */
static void login_failed(struct chat_conn *conn, const char *reason, enum chat_phase again)
{
        struct chat_service *chat = conn->chat;
        char key[sizeof(((struct chat_failure *)0)->key)], extra[96];
        unsigned count, by_name = 0;
        double delay;

        failure_key(key, sizeof(key), 'a', conn->address);
        count = chat_failure_add(chat, key);
        if (conn->name[0] && again == CHAT_PHASE_PASSWORD) {
                failure_key(key, sizeof(key), 'n', conn->name);
                by_name = chat_failure_add(chat, key);
        }
        if (by_name > count)
                count = by_name;
        snprintf(extra, sizeof(extra), "REASON=%s", reason);
        chat_log(conn, LOG_NOTICE, LOG_ID_CHAT_LOGIN_FAILED, extra, "failed login: %s (%u)", reason,
                 count);
        if (count >= CHAT_FAILURES_MAX) {
                lock_out(conn);
                return;
        }
        chat_sendf(conn, "ERR %s\n", reason);
        /* Each failure doubles the pause: 0.25 s, 0.5 s, 1 s, 2 s, then the door closes. */
        delay = CHAT_FAILURE_DELAY;
        for (unsigned i = 1; i < count; i++)
                delay *= 2;
        conn->phase = CHAT_PHASE_WAITING;
        conn->pausing = true;
        conn->resume_phase = again;
        chat_pause_input(conn, true);
        ev_timer_stop(chat->loop, &conn->timer);
        ev_timer_set(&conn->timer, delay, 0);
        ev_timer_start(chat->loop, &conn->timer);
}

/* Let the login go on: the timer goes back to the login deadline. */
static void rearm_login_timer(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;
        ev_tstamp left = conn->login_deadline - ev_now(chat->loop);

        ev_timer_stop(chat->loop, &conn->timer);
        ev_timer_set(&conn->timer, left > 0 ? left : 1e-3, 0);
        ev_timer_start(chat->loop, &conn->timer);
}

void chat_session_timer(struct chat_conn *conn)
{
        if (conn->pausing) {
                conn->pausing = false;
                rearm_login_timer(conn);
                prompt(conn, conn->resume_phase);
                chat_resume_input(conn);
                return;
        }
        if (conn->phase == CHAT_PHASE_CHAT || conn->phase == CHAT_PHASE_CLOSING)
                return;
        chat_sendf(conn, "ERR login timeout\n");
        chat_close_after_flush(conn, "login timeout");
}

void chat_session_start(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;
        struct store_user user;
        char name[CHAT_NAME_MAX + 1];

        conn->login_deadline = ev_now(chat->loop) + chat->config->chat_login_timeout;
        rearm_login_timer(conn);
        if (failures_of(conn) >= CHAT_FAILURES_MAX) {
                lock_out(conn);
                return;
        }
        if (store_identity_get(&chat->store, conn->address, name) == 0 &&
            store_user_get(&chat->store, name, &user) == 0) {
                snprintf(conn->name, sizeof(conn->name), "%s", user.name);
                conn->registering = false;
                chat_sendf(conn, "HELLO %s\n", conn->name);
                prompt_password(conn);
                return;
        }
        prompt_name(conn);
}

/* A name given at NAME? or with /name: known users log in, new names register. */
static void choose_name(struct chat_conn *conn, const char *text, size_t length,
                        enum chat_phase again)
{
        struct chat_service *chat = conn->chat;
        struct store_user user;
        char name[CHAT_NAME_MAX + 1];
        int r;

        if (chat_name_check(text, length) < 0) {
                chat_sendf(conn, "ERR invalid name: 1 to %d letters, digits, '_', '-' or '.'\n",
                           CHAT_NAME_MAX);
                prompt(conn, again);
                return;
        }
        memcpy(name, text, length);
        name[length] = '\0';
        r = store_user_get(&chat->store, name, &user);
        if (r == 0) {
                snprintf(conn->name, sizeof(conn->name), "%s", user.name);
                conn->registering = false;
        } else if (r == -ENOENT) {
                snprintf(conn->name, sizeof(conn->name), "%s", name);
                conn->registering = true;
        } else {
                log_error("chat: store: cannot read user %s: %s", name,
                          store_last_error(&chat->store));
                chat_sendf(conn, "ERR unavailable: the store failed; try again\n");
                prompt(conn, again);
                return;
        }
        if (failures_of(conn) >= CHAT_FAILURES_MAX) {
                lock_out(conn);
                return;
        }
        prompt_password(conn);
}

static void on_job_work(void *arg)
{
        struct chat_job *job = arg;

        switch (job->kind) {
        case CHAT_JOB_VERIFY:
                job->result = auth_password_verify(job->hash, job->password, job->password_length);
                if (job->result == 0 && auth_password_needs_rehash(&job->params, job->hash) == 1)
                        job->rehashed =
                            auth_password_hash(&job->params, job->password, job->password_length,
                                               job->new_hash) == 0;
                break;
        case CHAT_JOB_REGISTER:
        case CHAT_JOB_CHANGE:
                job->result = auth_password_hash(&job->params, job->password, job->password_length,
                                                 job->hash);
                break;
        }
        sodium_memzero(job->password, sizeof(job->password));
}

static void on_job_done(void *arg, bool cancelled);

/* Start a password job; the connection waits for it without reading. */
static void submit_job(struct chat_conn *conn, enum chat_job_kind kind, const char *password,
                       size_t length, const char *stored_hash)
{
        struct chat_service *chat = conn->chat;
        struct chat_job *job = calloc(1, sizeof(*job));
        enum chat_phase back = conn->phase;
        int r;

        if (!job) {
                chat_sendf(conn, "ERR busy; try again\n");
                prompt(conn, back);
                return;
        }
        job->conn = conn;
        job->kind = kind;
        job->params = chat->auth;
        memcpy(job->password, password, length);
        job->password_length = length;
        if (stored_hash)
                snprintf(job->hash, sizeof(job->hash), "%s", stored_hash);
        r = workers_submit(&chat->workers, on_job_work, on_job_done, job, &conn->job_id);
        if (r < 0) {
                /* A login burst beyond the queue: refuse it now rather than queue without bound. */
                sodium_memzero(job, sizeof(*job));
                free(job);
                chat_sendf(conn, "ERR busy; try again\n");
                if (back == CHAT_PHASE_CHAT)
                        return;
                prompt(conn, back);
                return;
        }
        conn->job = job;
        conn->resume_phase = back;
        /*
         * A logged-in user stays online while its /password is hashed: it
         * still gets messages and counts for /who, JOIN and LEAVE. Only its
         * input waits (no line is taken while a job is out).
         */
        if (back != CHAT_PHASE_CHAT)
                conn->phase = CHAT_PHASE_WAITING;
        chat_pause_input(conn, true);
}

/* A history reply: the lines of the last N messages, as many of the newest as fit. */
struct history_reply {
        struct chat_conn *conn;
        unsigned short sizes[CHAT_HISTORY_REQUEST_MAX]; /* bytes of each line, oldest first */
        size_t count;                                   /* lines measured */
        size_t skip;                                    /* the oldest lines left out */
};

static int format_history_line(const struct store_message *message, char *line, size_t size)
{
        return chat_line_format_message(line, size, "HIST", message->time_ms, message->name,
                                        message->text, message->text_length);
}

static int measure_history_line(void *context, const struct store_message *message)
{
        struct history_reply *reply = context;
        char line[CHAT_SERVER_LINE_MAX];
        int n = format_history_line(message, line, sizeof(line));

        if (reply->count < CHAT_HISTORY_REQUEST_MAX)
                reply->sizes[reply->count++] = (unsigned short)(n > 0 ? n : 0);
        return 0;
}

static int send_history_line(void *context, const struct store_message *message)
{
        struct history_reply *reply = context;
        char line[CHAT_SERVER_LINE_MAX];
        int n;

        if (reply->skip > 0) {
                reply->skip--;
                return 0;
        }
        n = format_history_line(message, line, sizeof(line));
        if (n > 0)
                chat_send(reply->conn, line, (size_t)n);
        return 0;
}

/*
 * Queue the last count messages as HIST lines. They are queued at once, before
 * the peer can read any, so they take at most half of the output queue that
 * is free (the rest is for messages relayed meanwhile): else a long history
 * would close the connection as a slow reader. The oldest are left out.
 * Returns the number of lines queued or -errno.
 */
static int queue_history(struct chat_conn *conn, size_t count)
{
        struct chat_service *chat = conn->chat;
        size_t half = chat->config->chat_output_max / 2;
        size_t queued = conn->output_end - conn->output_start;
        size_t budget = half > queued ? half - queued : 0, used = 0, fit = 0;
        struct history_reply *reply = calloc(1, sizeof(*reply));
        int r;

        if (!reply)
                return -ENOMEM;
        reply->conn = conn;
        if (count > CHAT_HISTORY_REQUEST_MAX)
                count = CHAT_HISTORY_REQUEST_MAX;
        r = store_history_last(&chat->store, count, measure_history_line, reply);
        if (r < 0)
                goto out;
        while (fit < reply->count && used + reply->sizes[reply->count - 1 - fit] <= budget)
                used += reply->sizes[reply->count - 1 - fit++];
        reply->skip = reply->count - fit;
        r = store_history_last(&chat->store, count, send_history_line, reply);
        if (r >= 0)
                r = (int)fit;
out:
        free(reply);
        return r;
}

/* A new session for the connection's user: stores its hash and sends TOKEN. 0 or -errno. */
static int new_session(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;
        struct auth_token token;
        struct auth_token_hash hash;
        char text[AUTH_TOKEN_TEXT_SIZE];
        uint64_t now = chat_now_ms();
        int r;

        auth_token_generate(&token);
        auth_token_format(&token, text);
        auth_token_hash(&token, &hash);
        auth_token_hash_format(&hash, conn->token_hash);
        r = store_session_create(&chat->store, conn->token_hash, conn->name, now,
                                 now + (uint64_t)(chat->config->chat_token_lifetime * 1000));
        sodium_memzero(&token, sizeof(token));
        if (r < 0) {
                log_error("chat: store: cannot create a session for %s: %s", conn->name,
                          store_last_error(&chat->store));
                sodium_memzero(text, sizeof(text));
                return r;
        }
        chat_sendf(conn, "TOKEN %s\n", text);
        sodium_memzero(text, sizeof(text));
        return 0;
}

static void publish_presence(struct chat_conn *conn, enum bus_kind kind)
{
        struct bus_message message = {
            .kind = kind,
            .time_ms = chat_now_ms(),
            .sender = conn->id,
            .name = conn->name,
            .text = "",
        };

        (void)bus_publish(&conn->chat->bus, &message);
}

/* The login succeeded (token_text: the token used, or NULL for a new session). */
static void login_success(struct chat_conn *conn, const char *method, const char *token_text)
{
        struct chat_service *chat = conn->chat;
        char key[sizeof(((struct chat_failure *)0)->key)], extra[48];
        bool first;

        if (chat->online >= chat->config->chat_max_users) {
                chat_sendf(conn, "ERR server full: %u users online\n", chat->online);
                chat_close_after_flush(conn, "max users online");
                return;
        }
        if (token_text) {
                chat_sendf(conn, "TOKEN %s\n", token_text);
        } else if (new_session(conn) < 0) {
                chat_sendf(conn, "ERR unavailable: the store failed\n");
                chat_close_after_flush(conn, "store failure");
                return;
        }
        if (store_identity_set(&chat->store, conn->address, conn->name) < 0)
                log_warning("chat: store: cannot remember %s for %s: %s", conn->name, conn->address,
                            store_last_error(&chat->store));
        failure_key(key, sizeof(key), 'a', conn->address);
        chat_failure_clear(chat, key);
        failure_key(key, sizeof(key), 'n', conn->name);
        chat_failure_clear(chat, key);
        ev_timer_stop(chat->loop, &conn->timer);
        if (conn->counted == CHAT_COUNT_PENDING)
                chat->pending--;
        conn->counted = CHAT_COUNT_ONLINE;
        chat->online++;
        first = chat_online_count(chat, conn->name, conn) == 0;
        conn->phase = CHAT_PHASE_CHAT;
        chat_sendf(conn, "OK welcome, %s\n", conn->name);
        if (chat->config->chat_history > 0 && queue_history(conn, chat->config->chat_history) < 0)
                log_warning("chat: store: cannot read the history: %s",
                            store_last_error(&chat->store));
        snprintf(extra, sizeof(extra), "METHOD=%s", method);
        chat_log(conn, LOG_INFO, LOG_ID_CHAT_LOGIN, extra, "%s logged in (%s)", conn->name, method);
        /* A user logged in twice joins once. */
        if (first)
                publish_presence(conn, BUS_JOIN);
}

static void on_job_done(void *arg, bool cancelled)
{
        struct chat_job *job = arg;
        struct chat_conn *conn = job->conn;
        struct chat_service *chat;
        int r;

        if (cancelled || !conn)
                goto out;
        chat = conn->chat;
        conn->job = NULL;
        conn->job_id = 0;
        /* The connection is on its way out (a drain): the answer no longer matters. */
        if (conn->phase == CHAT_PHASE_CLOSING)
                goto out;
        conn->phase = conn->resume_phase;
        switch (job->kind) {
        case CHAT_JOB_VERIFY:
                if (job->result < 0) {
                        login_failed(conn, "wrong password", CHAT_PHASE_PASSWORD);
                        goto out;
                }
                if (job->rehashed &&
                    store_user_set_hash(&chat->store, conn->name, job->new_hash) < 0)
                        log_warning("chat: store: cannot store the new hash of %s: %s", conn->name,
                                    store_last_error(&chat->store));
                login_success(conn, "password", NULL);
                break;
        case CHAT_JOB_REGISTER:
                if (job->result < 0) {
                        chat_sendf(conn, "ERR cannot register: %s\n", strerror(-job->result));
                        prompt_name(conn);
                        break;
                }
                r = store_user_create(&chat->store, conn->name, job->hash, chat_now_ms());
                if (r == -EEXIST) {
                        /* Someone took the name while the password was being hashed. */
                        chat_sendf(conn, "ERR name taken\n");
                        prompt_name(conn);
                        break;
                }
                if (r < 0) {
                        log_error("chat: store: cannot register %s: %s", conn->name,
                                  store_last_error(&chat->store));
                        chat_sendf(conn, "ERR unavailable: the store failed\n");
                        prompt_name(conn);
                        break;
                }
                chat_log(conn, LOG_INFO, LOG_ID_CHAT_REGISTER, NULL, "%s registered", conn->name);
                login_success(conn, "register", NULL);
                break;
        case CHAT_JOB_CHANGE:
                if (job->result < 0 ||
                    store_user_set_hash(&chat->store, conn->name, job->hash) < 0) {
                        chat_sendf(conn, "ERR password not changed\n");
                        break;
                }
                /* Every session of the user ends: a stolen token stops working. */
                (void)store_session_revoke_user(&chat->store, conn->name);
                if (new_session(conn) == 0)
                        chat_sendf(conn, "OK password changed; other sessions ended\n");
                else
                        chat_sendf(conn, "ERR password changed, but no new session: log in "
                                         "again\n");
                chat_log(conn, LOG_NOTICE, NULL, NULL, "%s changed the password", conn->name);
                break;
        }
        chat_resume_input(conn);
out:
        sodium_memzero(job, sizeof(*job));
        free(job);
}

/* /token TOKEN at a prompt. */
static void login_with_token(struct chat_conn *conn, const char *text, size_t length)
{
        struct chat_service *chat = conn->chat;
        enum chat_phase again = conn->phase;
        struct store_session session;
        struct auth_token token;
        struct auth_token_hash hash;
        char hash_text[AUTH_TOKEN_HASH_TEXT_SIZE], token_text[AUTH_TOKEN_TEXT_SIZE];
        int r;

        if (auth_token_parse(text, length, &token) < 0) {
                login_failed(conn, "invalid token", again);
                return;
        }
        auth_token_hash(&token, &hash);
        auth_token_hash_format(&hash, hash_text);
        r = store_session_lookup(&chat->store, hash_text, chat_now_ms(),
                                 (uint64_t)(chat->config->chat_token_idle * 1000), &session);
        if (r == -ENOENT) {
                login_failed(conn, "unknown token", again);
                return;
        }
        if (r < 0) {
                log_error("chat: store: cannot look a session up: %s",
                          store_last_error(&chat->store));
                chat_sendf(conn, "ERR unavailable: the store failed\n");
                prompt(conn, again);
                return;
        }
        if (session.expired) {
                (void)store_session_revoke(&chat->store, hash_text);
                login_failed(conn, "expired token", again);
                return;
        }
        (void)store_session_touch(&chat->store, hash_text, chat_now_ms());
        snprintf(conn->name, sizeof(conn->name), "%s", session.name);
        memcpy(conn->token_hash, hash_text, sizeof(hash_text));
        auth_token_format(&token, token_text);
        login_success(conn, "token", token_text);
        sodium_memzero(token_text, sizeof(token_text));
        sodium_memzero(&token, sizeof(token));
}

static void login_line(struct chat_conn *conn, const char *text, size_t length)
{
        struct chat_service *chat = conn->chat;
        struct chat_command command;
        struct store_user user;
        int r;

        if (chat_command_split(text, length, &command) == 1) {
                if (chat_command_is(&command, "token")) {
                        login_with_token(conn, command.argument, command.argument_length);
                } else if (chat_command_is(&command, "quit")) {
                        chat_sendf(conn, "BYE\n");
                        chat_close_after_flush(conn, "quit");
                } else if (chat_command_is(&command, "name") &&
                           conn->phase == CHAT_PHASE_PASSWORD) {
                        choose_name(conn, command.argument, command.argument_length,
                                    CHAT_PHASE_PASSWORD);
                } else {
                        chat_sendf(conn, "ERR log in first (/token TOKEN, /name NAME or /quit)\n");
                        prompt(conn, conn->phase);
                }
                return;
        }
        /*
         * As after login, a leading // stands for /: a password set with
         * "/password /secret" is typed "//secret" here, since "/secret"
         * alone is a command.
         */
        text = command.argument;
        length = command.argument_length;
        if (conn->phase == CHAT_PHASE_NAME) {
                choose_name(conn, text, length, CHAT_PHASE_NAME);
                return;
        }
        /* PASSWORD? */
        if (failures_of(conn) >= CHAT_FAILURES_MAX) {
                lock_out(conn);
                return;
        }
        if (conn->registering) {
                r = auth_password_check(text, length);
                if (r < 0) {
                        chat_sendf(conn, "ERR password too %s (%d to %d bytes)\n",
                                   r == -EMSGSIZE ? "long" : "short", AUTH_PASSWORD_MIN,
                                   AUTH_PASSWORD_MAX);
                        prompt_password(conn);
                        return;
                }
                submit_job(conn, CHAT_JOB_REGISTER, text, length, NULL);
                return;
        }
        if (length > AUTH_PASSWORD_MAX) {
                login_failed(conn, "wrong password", CHAT_PHASE_PASSWORD);
                return;
        }
        r = store_user_get(&chat->store, conn->name, &user);
        if (r < 0) {
                /* Removed meanwhile (echoctl users remove): start over. */
                chat_sendf(conn, "ERR no such user\n");
                prompt_name(conn);
                return;
        }
        submit_job(conn, CHAT_JOB_VERIFY, text, length, user.hash);
        sodium_memzero(&user, sizeof(user));
}

/* /who: the names logged in, each once. */
static void send_who(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;
        size_t size = 8 + (size_t)chat->online * (CHAT_NAME_MAX + 1) + 2, length;
        char *line = malloc(size);

        if (!line) {
                chat_sendf(conn, "ERR out of memory\n");
                return;
        }
        length = (size_t)snprintf(line, size, "WHO");
        for (struct chat_conn *c = chat->head; c; c = c->next) {
                bool seen = false;

                if (c->phase != CHAT_PHASE_CHAT)
                        continue;
                for (struct chat_conn *before = chat->head; before != c; before = before->next) {
                        if (before->phase == CHAT_PHASE_CHAT &&
                            strcasecmp(before->name, c->name) == 0) {
                                seen = true;
                                break;
                        }
                }
                if (!seen && length + strlen(c->name) + 3 < size)
                        length += (size_t)snprintf(line + length, size - length, " %s", c->name);
        }
        line[length++] = '\n';
        chat_send(conn, line, length);
        free(line);
}

static void send_history(struct chat_conn *conn, const char *argument, size_t length)
{
        struct chat_service *chat = conn->chat;
        unsigned long count = chat->config->chat_history ? chat->config->chat_history : 20;
        char number[16];
        int n;

        if (length > 0) {
                char *end = NULL;

                if (length >= sizeof(number)) {
                        chat_sendf(conn, "ERR /history takes a number from 1 to %d\n",
                                   CHAT_HISTORY_REQUEST_MAX);
                        return;
                }
                memcpy(number, argument, length);
                number[length] = '\0';
                count = strtoul(number, &end, 10);
                if (*end || number[0] < '0' || number[0] > '9' || count < 1 ||
                    count > CHAT_HISTORY_REQUEST_MAX) {
                        chat_sendf(conn, "ERR /history takes a number from 1 to %d\n",
                                   CHAT_HISTORY_REQUEST_MAX);
                        return;
                }
        }
        n = queue_history(conn, count);
        if (n < 0) {
                log_error("chat: store: cannot read the history: %s",
                          store_last_error(&chat->store));
                chat_sendf(conn, "ERR unavailable: the store failed\n");
                return;
        }
        chat_sendf(conn, "OK %d message%s\n", n, n == 1 ? "" : "s");
}

/* A message: limited per user, stored, then relayed to everyone else. */
static void send_message(struct chat_conn *conn, const char *text, size_t length)
{
        struct chat_service *chat = conn->chat;
        const struct config *config = chat->config;
        ev_tstamp now = ev_now(chat->loop);
        struct chat_conn *bucket;
        struct bus_message message = {
            .kind = BUS_MESSAGE,
            .sender = conn->id,
            .name = conn->name,
            .text = text,
            .text_length = length,
        };
        int r;

        if (length == 0)
                return;
        /*
         * The limit is per user: every connection of the user draws on the
         * bucket of its oldest logged-in connection, so a second login does
         * not double the rate.
         */
        bucket = conn;
        for (struct chat_conn *other = chat->head; other; other = other->next) {
                if (other->phase == CHAT_PHASE_CHAT && other->started <= bucket->started &&
                    strcasecmp(other->name, conn->name) == 0)
                        bucket = other;
        }
        bucket->flood_tokens += (now - bucket->flood_at) * config->chat_rate;
        if (bucket->flood_tokens > config->chat_burst)
                bucket->flood_tokens = config->chat_burst;
        bucket->flood_at = now;
        if (bucket->flood_tokens < 1) {
                chat_sendf(conn, "ERR slow down: at most %g messages per second\n",
                           config->chat_rate);
                return;
        }
        bucket->flood_tokens -= 1;
        message.time_ms = chat_now_ms();
        /* Stored before it is relayed: what others saw is in the history. */
        r = store_history_append(&chat->store, message.time_ms, conn->name, text, length,
                                 &message.id);
        if (r < 0) {
                log_error("chat: store: message from %s not stored: %s", conn->name,
                          store_last_error(&chat->store));
                chat_sendf(conn, "ERR not sent: the store failed\n");
                return;
        }
        r = bus_publish(&chat->bus, &message);
        if (r < 0) {
                log_error("chat: message from %s stored but not relayed: %s", conn->name,
                          strerror(-r));
                chat_sendf(conn, "ERR not relayed: %s\n", strerror(-r));
                return;
        }
        conn->messages++;
        chat->messages++;
}

static void chat_line(struct chat_conn *conn, const char *text, size_t length)
{
        struct chat_service *chat = conn->chat;
        struct chat_command command;

        if (chat_command_split(text, length, &command) == 0) {
                send_message(conn, command.argument, command.argument_length);
                return;
        }
        if (chat_command_is(&command, "who")) {
                send_who(conn);
        } else if (chat_command_is(&command, "history")) {
                send_history(conn, command.argument, command.argument_length);
        } else if (chat_command_is(&command, "quit")) {
                chat_sendf(conn, "BYE\n");
                chat_close_after_flush(conn, "quit");
        } else if (chat_command_is(&command, "logout")) {
                if (conn->token_hash[0])
                        (void)store_session_revoke(&chat->store, conn->token_hash);
                conn->token_hash[0] = '\0';
                chat_sendf(conn, "BYE logged out\n");
                chat_close_after_flush(conn, "logout");
        } else if (chat_command_is(&command, "password")) {
                int r = auth_password_check(command.argument, command.argument_length);

                if (r < 0) {
                        chat_sendf(conn, "ERR usage: /password NEW (%d to %d bytes)\n",
                                   AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX);
                        return;
                }
                submit_job(conn, CHAT_JOB_CHANGE, command.argument, command.argument_length, NULL);
        } else if (chat_command_is(&command, "token") || chat_command_is(&command, "name")) {
                chat_sendf(conn, "ERR already logged in\n");
        } else {
                chat_sendf(conn,
                           "ERR unknown command /%.*s (/who, /history [N], /password NEW, "
                           "/logout, /quit; // starts a message with /)\n",
                           (int)(command.name_length > 32 ? 32 : command.name_length),
                           command.name);
        }
}

void chat_session_line(struct chat_conn *conn, const struct chat_line *line)
{
        enum chat_text_result check = chat_line_check(line->text, line->length);

        if (check != CHAT_TEXT_OK) {
                chat_sendf(conn, "ERR %s\n", chat_line_error_text(check));
                if (conn->phase != CHAT_PHASE_CHAT)
                        prompt(conn, conn->phase);
                return;
        }
        if (conn->phase == CHAT_PHASE_CHAT)
                chat_line(conn, line->text, line->length);
        else
                login_line(conn, line->text, line->length);
}

void chat_session_too_long(struct chat_conn *conn)
{
        chat_sendf(conn, "ERR %s (at most %d bytes)\n", chat_line_error_text(CHAT_LINE_TOO_LONG),
                   CHAT_LINE_MAX);
        if (conn->phase != CHAT_PHASE_CHAT)
                prompt(conn, conn->phase);
}

void chat_session_end(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;

        if (conn->job) {
                /* Its done function runs later with cancelled set and frees the job. */
                conn->job->conn = NULL;
                (void)workers_cancel(&chat->workers, conn->job_id);
                conn->job = NULL;
        }
        if (conn->counted == CHAT_COUNT_PENDING)
                chat->pending--;
        if (conn->counted == CHAT_COUNT_ONLINE) {
                chat->online--;
                chat_log(conn, LOG_INFO, LOG_ID_CHAT_LOGOUT, NULL, "%s left", conn->name);
                conn->phase = CHAT_PHASE_CLOSING;
                if (chat_online_count(chat, conn->name, conn) == 0)
                        publish_presence(conn, BUS_LEAVE);
        }
        conn->counted = CHAT_COUNT_NONE;
}

void chat_session_deliver(void *context, const struct bus_message *message)
{
        struct chat_service *chat = context;
        char line[CHAT_SERVER_LINE_MAX];
        int n;

        switch (message->kind) {
        case BUS_MESSAGE:
                n = chat_line_format_message(line, sizeof(line), "MSG", message->time_ms,
                                             message->name, message->text, message->text_length);
                break;
        case BUS_JOIN:
                n = snprintf(line, sizeof(line), "JOIN %s\n", message->name);
                break;
        case BUS_LEAVE:
                n = snprintf(line, sizeof(line), "LEAVE %s\n", message->name);
                break;
        default:
                return;
        }
        if (n <= 0 || (size_t)n >= sizeof(line))
                return;
        /* One formatted line, queued for each reader; each queue is flushed once this turn. */
        for (struct chat_conn *conn = chat->head; conn; conn = conn->next) {
                if (conn->phase == CHAT_PHASE_CHAT && conn->id != message->sender)
                        chat_send(conn, line, (size_t)n);
        }
}
