/*
 * The login dialogue of a chat connection: HELLO/NAME?, PASSWORD?, /name,
 * /token, the password jobs on the worker pool, and the new session. Each
 * store call is asynchronous (chat_wait.c): a step ends where it calls the
 * store, and the next step is the function named in its chat_wait_new().
 * /password after login (chat_password.c) shares the new session.
 * docs/chat.md describes the protocol for users.
 */
#include "chat_login.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chat_conn.h"
#include "chat_job.h"
#include "chat_limits.h"
#include "chat_relay.h"
#include "chat_wait.h"
#include "log.h"

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

void chat_prompt(struct chat_conn *conn, enum chat_phase phase)
{
        if (phase == CHAT_PHASE_PASSWORD && conn->name[0])
                prompt_password(conn);
        else
                prompt_name(conn);
}

/* Let the login go on: the timer goes back to the login deadline. */
static void rearm_login_timer(struct chat_conn *conn)
{
        ev_tstamp left = conn->login_deadline - ev_now(conn->chat->loop);

        chat_conn_timer(conn, left > 0 ? left : 1e-3);
}

void chat_login_timer(struct chat_conn *conn)
{
        if (conn->pausing) {
                conn->pausing = false;
                rearm_login_timer(conn);
                chat_prompt(conn, conn->resume_phase);
                chat_resume_input(conn);
                return;
        }
        if (conn->phase == CHAT_PHASE_CHAT || conn->phase == CHAT_PHASE_CLOSING)
                return;
        chat_sendf(conn, "ERR login timeout\n");
        chat_close_after_flush(conn, "login timeout");
}

/* The store could not answer: say so and give the prompt again. */
static void store_failed(struct chat_conn *conn, enum chat_phase again, const char *what,
                         const struct store_reply *reply)
{
        log_error("chat: store: cannot %s: %s", what, reply->error);
        if (reply->status == -EAGAIN)
                chat_sendf(conn, "ERR unavailable: the chat store cannot be reached; try again\n");
        else
                chat_sendf(conn, "ERR unavailable: the store failed; try again\n");
        chat_prompt(conn, again);
}

/* Make a chat_wait, or say the server is busy and give the prompt again. */
static struct chat_wait *wait_or_busy(struct chat_conn *conn, chat_next_fn next)
{
        struct chat_wait *wait = chat_wait_new(conn, next);

        if (!wait) {
                chat_sendf(conn, "ERR busy; try again\n");
                if (conn->phase != CHAT_PHASE_CHAT)
                        chat_prompt(conn, conn->phase);
        }
        return wait;
}

static void greet_user(struct chat_conn *conn, struct chat_wait *wait,
                       const struct store_reply *reply)
{
        (void)wait;
        if (reply->status < 0) {
                prompt_name(conn);
                return;
        }
        snprintf(conn->name, sizeof(conn->name), "%s", reply->user.name);
        conn->registering = false;
        chat_sendf(conn, "HELLO %s\n", conn->name);
        prompt_password(conn);
}

static void greet_identity(struct chat_conn *conn, struct chat_wait *wait,
                           const struct store_reply *reply)
{
        (void)wait;
        if (reply->status < 0) {
                prompt_name(conn);
                return;
        }
        wait = chat_wait_new(conn, greet_user);
        if (!wait) {
                prompt_name(conn);
                return;
        }
        store_user_get_async(&conn->chat->store, reply->name, chat_wait_done, wait);
        chat_wait_called(wait);
}

void chat_login_start(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;
        struct chat_wait *wait;

        conn->login_deadline = ev_now(chat->loop) + chat->config->chat_login_timeout;
        rearm_login_timer(conn);
        if (chat_limits_locked(conn)) {
                chat_lock_out(conn, NULL);
                return;
        }
        if (!store_available(&chat->store)) {
                chat_sendf(conn, "ERR unavailable: the chat store cannot be reached; try again "
                                 "later\n");
                chat_close_after_flush(conn, "chat store unavailable");
                return;
        }
        /* An address seen before is greeted by the name last used from it. */
        wait = chat_wait_new(conn, greet_identity);
        if (!wait) {
                prompt_name(conn);
                return;
        }
        store_identity_get_async(&chat->store, conn->address, chat_wait_done, wait);
        chat_wait_called(wait);
}

static void name_chosen(struct chat_conn *conn, struct chat_wait *wait,
                        const struct store_reply *reply)
{
        if (reply->status == 0) {
                snprintf(conn->name, sizeof(conn->name), "%s", reply->user.name);
                conn->registering = false;
        } else if (reply->status == -ENOENT) {
                /* Names registered before the rule for new ones still log in. */
                if (chat_name_check_new(wait->name, strlen(wait->name)) < 0) {
                        chat_sendf(conn, "ERR invalid name: a new name starts with a letter, ends "
                                         "with a letter or digit, and has no two of '_', '-', "
                                         "'.' in a row\n");
                        chat_prompt(conn, wait->again);
                        return;
                }
                snprintf(conn->name, sizeof(conn->name), "%s", wait->name);
                conn->registering = true;
        } else {
                store_failed(conn, wait->again, "read a user", reply);
                return;
        }
        if (chat_limits_locked(conn)) {
                chat_lock_out(conn, NULL);
                return;
        }
        prompt_password(conn);
}

/* A name given at NAME? or with /name: known users log in, new names register. */
static void choose_name(struct chat_conn *conn, const char *text, size_t length,
                        enum chat_phase again)
{
        struct chat_wait *wait;

        if (chat_name_check(text, length) < 0) {
                chat_sendf(conn, "ERR invalid name: 1 to %d letters, digits, '_', '-' or '.'\n",
                           CHAT_NAME_MAX);
                chat_prompt(conn, again);
                return;
        }
        wait = wait_or_busy(conn, name_chosen);
        if (!wait)
                return;
        wait->again = again;
        memcpy(wait->name, text, length);
        wait->name[length] = '\0';
        store_user_get_async(&conn->chat->store, wait->name, chat_wait_done, wait);
        chat_wait_called(wait);
}

void chat_login_new_session(struct chat_conn *conn, chat_next_fn next, const char *method)
{
        struct chat_service *chat = conn->chat;
        struct auth_token token;
        struct auth_token_hash hash;
        struct chat_wait *wait;
        uint64_t now = chat_now_ms();

        wait = chat_wait_new(conn, next);
        if (!wait) {
                struct store_reply reply = {.status = -ENOMEM, .error = strerror(ENOMEM)};

                next(conn, NULL, &reply);
                return;
        }
        wait->method = method;
        auth_token_generate(&token);
        auth_token_format(&token, wait->token_text);
        auth_token_hash(&token, &hash);
        auth_token_hash_format(&hash, wait->token_hash);
        sodium_memzero(&token, sizeof(token));
        store_session_create_async(&chat->store, wait->token_hash, conn->name, now,
                                   now + (uint64_t)(chat->config->chat_token_lifetime * 1000),
                                   chat_wait_done, wait);
        chat_wait_called(wait);
}

static bool server_full(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;

        if (chat->online < chat->config->chat_max_users)
                return false;
        chat_sendf(conn, "ERR server full: %u users online\n", chat->online);
        chat_close_after_flush(conn, "max users online");
        return true;
}

static void login_history(struct chat_conn *conn, struct chat_wait *wait,
                          const struct store_reply *reply)
{
        uint64_t newest = 0;

        (void)wait;
        if (reply->status < 0) {
                log_warning("chat: store: cannot read the history: %s", reply->error);
        } else {
                chat_relay_queue_history(conn, reply);
                if (reply->count > 0)
                        newest = reply->messages[reply->count - 1].id;
        }
        chat_relay_history_done(conn, newest);
}

/* Logged in with token_hash as its session: count it online, welcome it, JOIN. */
static void logged_in(struct chat_conn *conn, const char *method)
{
        struct chat_service *chat = conn->chat;
        char extra[48];
        struct chat_wait *wait;

        if (server_full(conn))
                return;
        store_identity_set_async(&chat->store, conn->address, conn->name, chat_store_logged,
                                 "remember the name of an address");
        chat_limits_logged_in(conn);
        ev_timer_stop(chat->loop, &conn->timer);
        if (conn->counted == CHAT_COUNT_PENDING)
                chat->pending--;
        conn->counted = CHAT_COUNT_ONLINE;
        chat->online++;
        conn->phase = CHAT_PHASE_CHAT;
        chat_sendf(conn, "OK welcome, %s\n", conn->name);
        snprintf(extra, sizeof(extra), "METHOD=%s", method);
        chat_log(conn, LOG_INFO, LOG_ID_CHAT_LOGIN, extra, "%s logged in (%s)", conn->name, method);
        chat_relay_online(conn, true);
        if (chat->config->chat_history == 0)
                return;
        /* The last messages follow; the user's first line waits for them. */
        wait = chat_wait_new(conn, login_history);
        if (!wait)
                return;
        /* Messages relayed meanwhile wait, so that they follow the history, each once. */
        conn->history_pending = true;
        store_history_last_async(&chat->store, chat->config->chat_history, chat_wait_done, wait);
        chat_wait_called(wait);
}

static void session_stored(struct chat_conn *conn, struct chat_wait *wait,
                           const struct store_reply *reply)
{
        if (reply->status < 0) {
                log_error("chat: store: cannot create a session for %s: %s", conn->name,
                          reply->error);
                chat_sendf(conn, "ERR unavailable: the store failed\n");
                chat_close_after_flush(conn, "store failure");
                return;
        }
        memcpy(conn->token_hash, wait->token_hash, sizeof(conn->token_hash));
        chat_sendf(conn, "TOKEN %s\n", wait->token_text);
        logged_in(conn, wait->method);
}

/* The password was right, or the user just registered: a new session, then in. */
static void login_success(struct chat_conn *conn, const char *method)
{
        if (server_full(conn))
                return;
        chat_login_new_session(conn, session_stored, method);
}

static void registered(struct chat_conn *conn, struct chat_wait *wait,
                       const struct store_reply *reply)
{
        (void)wait;
        if (reply->status == -EEXIST) {
                /* Someone took the name while the password was being hashed. */
                chat_sendf(conn, "ERR name taken\n");
                prompt_name(conn);
                return;
        }
        if (reply->status < 0) {
                store_failed(conn, CHAT_PHASE_NAME, "register a user", reply);
                return;
        }
        chat_log(conn, LOG_INFO, LOG_ID_CHAT_REGISTER, NULL, "%s registered", conn->name);
        login_success(conn, "register");
}

static void job_finished(struct chat_conn *conn, struct chat_job *job)
{
        struct chat_service *chat = conn->chat;
        struct chat_wait *wait;

        switch (job->kind) {
        case CHAT_JOB_VERIFY:
                if (job->result < 0) {
                        chat_login_failed(conn, "wrong password", CHAT_PHASE_PASSWORD);
                        return;
                }
                chat_limits_release(conn);
                if (job->rehashed)
                        store_user_set_hash_async(&chat->store, conn->name, job->new_hash,
                                                  chat_store_logged, "store a rehashed password");
                login_success(conn, "password");
                return;
        case CHAT_JOB_REGISTER:
                if (job->result < 0) {
                        chat_sendf(conn, "ERR cannot register: %s\n", strerror(-job->result));
                        prompt_name(conn);
                        return;
                }
                wait = wait_or_busy(conn, registered);
                if (!wait)
                        return;
                store_user_create_async(&chat->store, conn->name, job->hash, chat_now_ms(),
                                        chat_wait_done, wait);
                chat_wait_called(wait);
                return;
        case CHAT_JOB_CHANGE:
                return; /* chat_password.c's */
        }
}

/* Start a login's password job, or release its check, say the server is busy and prompt again. */
static void submit_job(struct chat_conn *conn, enum chat_job_kind kind, const char *password,
                       size_t length, const char *stored_hash)
{
        enum chat_phase back = conn->phase;

        /* A login burst beyond the queue: refused now rather than queued without bound. */
        if (chat_job_submit(conn, kind, password, length, stored_hash, job_finished) == 0)
                return;
        chat_limits_release(conn);
        chat_sendf(conn, "ERR busy; try again\n");
        if (back != CHAT_PHASE_CHAT)
                chat_prompt(conn, back);
}

static void token_looked_up(struct chat_conn *conn, struct chat_wait *wait,
                            const struct store_reply *reply)
{
        struct chat_service *chat = conn->chat;

        if (reply->status == -ENOENT) {
                chat_login_failed(conn, "unknown token", wait->again);
                return;
        }
        if (reply->status < 0) {
                store_failed(conn, wait->again, "look a session up", reply);
                return;
        }
        if (reply->session.expired) {
                store_session_revoke_async(&chat->store, wait->token_hash, chat_store_logged,
                                           "remove an expired session");
                chat_login_failed(conn, "expired token", wait->again);
                return;
        }
        store_session_touch_async(&chat->store, wait->token_hash, chat_now_ms(), chat_store_logged,
                                  "mark a session used");
        snprintf(conn->name, sizeof(conn->name), "%s", reply->session.name);
        memcpy(conn->token_hash, wait->token_hash, sizeof(conn->token_hash));
        if (server_full(conn))
                return;
        chat_sendf(conn, "TOKEN %s\n", wait->token_text);
        logged_in(conn, "token");
}

/* /token TOKEN at a prompt. */
static void login_with_token(struct chat_conn *conn, const char *text, size_t length)
{
        struct chat_service *chat = conn->chat;
        struct auth_token token;
        struct auth_token_hash hash;
        struct chat_wait *wait;

        /* Nothing was looked up: refused, but not counted, so it fills no failure table. */
        if (auth_token_parse(text, length, &token) < 0) {
                chat_sendf(conn, "ERR invalid token\n");
                chat_prompt(conn, conn->phase);
                return;
        }
        wait = wait_or_busy(conn, token_looked_up);
        if (!wait) {
                sodium_memzero(&token, sizeof(token));
                return;
        }
        auth_token_hash(&token, &hash);
        auth_token_hash_format(&hash, wait->token_hash);
        auth_token_format(&token, wait->token_text);
        sodium_memzero(&token, sizeof(token));
        store_session_lookup_async(&chat->store, wait->token_hash, chat_now_ms(),
                                   (uint64_t)(chat->config->chat_token_idle * 1000), chat_wait_done,
                                   wait);
        chat_wait_called(wait);
}

static void password_user(struct chat_conn *conn, struct chat_wait *wait,
                          const struct store_reply *reply)
{
        if (reply->status < 0)
                chat_limits_release(conn);
        if (reply->status == -ENOENT) {
                /* Removed meanwhile (echoctl users remove): start over. */
                chat_sendf(conn, "ERR no such user\n");
                prompt_name(conn);
                return;
        }
        if (reply->status < 0) {
                store_failed(conn, CHAT_PHASE_PASSWORD, "read a user", reply);
                return;
        }
        submit_job(conn, CHAT_JOB_VERIFY, wait->password, wait->password_length, reply->user.hash);
}

/* A password at PASSWORD?: register the new name, or check it against the stored hash. */
static void password_given(struct chat_conn *conn, const char *text, size_t length)
{
        struct chat_wait *wait;
        int r;

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
        /*
         * The check counts from here, before the store or a worker sees it,
         * so that racing connections cannot all be checked before the first
         * failure is counted; at the limit even the right password is not
         * checked.
         */
        r = chat_limits_reserve(conn);
        if (r < 0) {
                chat_lock_out(conn, r == -ENOSPC ? "failed-login table full" : NULL);
                return;
        }
        if (length > AUTH_PASSWORD_MAX) {
                chat_login_failed(conn, "wrong password", CHAT_PHASE_PASSWORD);
                return;
        }
        wait = wait_or_busy(conn, password_user);
        if (!wait) {
                chat_limits_release(conn);
                return;
        }
        memcpy(wait->password, text, length);
        wait->password_length = length;
        store_user_get_async(&conn->chat->store, conn->name, chat_wait_done, wait);
        chat_wait_called(wait);
}

void chat_login_line(struct chat_conn *conn, const char *text, size_t length)
{
        struct chat_command command;

        if (chat_command_split(text, length, &command) == 1) {
                if (chat_command_is(&command, "token")) {
                        login_with_token(conn, command.argument, command.argument_length);
                } else if (chat_command_is(&command, "quit")) {
                        chat_sendf(conn, "BYE\n");
                        chat_close_after_flush(conn, "quit");
                } else if (chat_command_is(&command, "name")) {
                        /* At NAME? too: "/name alice" means what "alice" does. */
                        choose_name(conn, command.argument, command.argument_length, conn->phase);
                } else if (chat_command_is(&command, "help")) {
                        chat_sendf(conn, "OK commands before login: /name NAME (log in or "
                                         "register as NAME), /token TOKEN, /quit, /help\n");
                        chat_prompt(conn, conn->phase);
                } else {
                        chat_sendf(conn,
                                   "ERR log in first (/name NAME, /token TOKEN, /help or /quit)\n");
                        chat_prompt(conn, conn->phase);
                }
                return;
        }
        /*
         * As after login, a leading // stands for /: a password set with
         * "/password /secret" is typed "//secret" here, since "/secret"
         * alone is a command.
         */
        if (conn->phase == CHAT_PHASE_NAME)
                choose_name(conn, command.argument, command.argument_length, CHAT_PHASE_NAME);
        else
                password_given(conn, command.argument, command.argument_length);
}
