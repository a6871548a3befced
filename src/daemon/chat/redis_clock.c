#include <errno.h>
#include <time.h>

#include "redis_backend.h"

/*
 * Redis's clock, as seen from this node, so that a message can carry a
 * deadline Redis checks itself (the post script refuses one that runs
 * late, after its sender was told it was not sent: a Redis stopped with
 * the script in its socket buffer runs it when it goes on). Each TIME the
 * command connection answers (at connect, then each health check) gives
 * Redis's time at some moment between the request and its answer, so
 * Redis's time less ours at the answer is a lower bound of the offset: a
 * deadline computed from it has passed in Redis by the time it passes here.
 * A step back of Redis's own clock (a wall clock) is the one thing this
 * cannot see. Calls go one way: store_redis.c and redis_backend.c call here.
 */

double redis_clock_now(void)
{
        struct timespec now;

        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static int64_t now_ms(void)
{
        return (int64_t)(redis_clock_now() * 1000);
}

int redis_clock_read(struct redis_backend *backend, const redisReply *reply)
{
        uint64_t seconds, micros;

        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
            reply->element[0]->type != REDIS_REPLY_STRING ||
            reply->element[1]->type != REDIS_REPLY_STRING ||
            redis_parse_u64(reply->element[0]->str, reply->element[0]->len, &seconds) < 0 ||
            redis_parse_u64(reply->element[1]->str, reply->element[1]->len, &micros) < 0 ||
            seconds > INT64_MAX / 2000 || micros >= 1000000)
                return -EBADMSG;
        backend->clock_offset_ms = (int64_t)(seconds * 1000 + micros / 1000) - now_ms();
        return 0;
}

uint64_t redis_clock_deadline_ms(const struct redis_backend *backend, double seconds)
{
        int64_t deadline = now_ms() + backend->clock_offset_ms + (int64_t)(seconds * 1000);

        return deadline > 0 ? (uint64_t)deadline : 0;
}

static void unlink_late(struct redis_late *late)
{
        *late->prev = late->next;
        if (late->next)
                late->next->prev = late->prev;
}

static void on_late_timer(struct ev_loop *loop, ev_timer *timer, int revents)
{
        struct redis_late *late = timer->data;

        (void)revents;
        ev_timer_stop(loop, timer);
        unlink_late(late);
        late->tell(late, false);
}

void redis_late_tell(struct redis_backend *backend, struct redis_late *late, double at)
{
        double wait = at - redis_clock_now();

        late->backend = backend;
        late->next = backend->late_head;
        late->prev = &backend->late_head;
        if (late->next)
                late->next->prev = &late->next;
        backend->late_head = late;
        ev_timer_init(&late->timer, on_late_timer, wait > 0 ? wait : 0., 0.);
        late->timer.data = late;
        ev_timer_start(backend->loop, &late->timer);
}

void redis_late_cancel_all(struct redis_backend *backend)
{
        while (backend->late_head) {
                struct redis_late *late = backend->late_head;

                ev_timer_stop(backend->loop, &late->timer);
                unlink_late(late);
                late->tell(late, true);
        }
}
