#ifndef ECHOD_URING_H
#define ECHOD_URING_H

#include <stdint.h>
#include <sys/socket.h>

/*
 * A small io_uring for connects: many connect() calls queued and submitted
 * with one system call, completions announced on an eventfd that an event
 * loop watches. Built on liburing when the build found it; otherwise every
 * function fails with -ENOSYS and callers use plain connect().
 */
struct uring;

/* A finished operation: the tag given when queueing it, and its result (0 or -errno). */
typedef void (*uring_done_fn)(void *context, uint64_t tag, int result);

/*
 * Create a ring able to hold entries queued operations, and its eventfd.
 * Returns 0, -ENOSYS (no io_uring in this build or this kernel), -EPERM
 * (forbidden here), -ENOMEM or another -errno.
 */
int uring_new(struct uring **out, unsigned entries);

/* The eventfd that becomes readable when completions are waiting. */
int uring_event_fd(const struct uring *ring);

/*
 * Queue a connect of fd to addr (which must stay valid until uring_submit()).
 * Returns 0, or -EBUSY when the queue is full (submit, then queue again).
 */
int uring_connect(struct uring *ring, int fd, const struct sockaddr *addr, socklen_t len,
                  uint64_t tag);

/* Queue the cancellation of the operation tagged tag. Returns 0 or -EBUSY. */
int uring_cancel(struct uring *ring, uint64_t tag);

/* Submit what is queued. Returns the number submitted or -errno. */
int uring_submit(struct uring *ring);

/*
 * Call done for every completion waiting (cancellations' own completions
 * are swallowed), after clearing the eventfd. Returns how many were reported.
 */
unsigned uring_reap(struct uring *ring, uring_done_fn done, void *context);

/* Cancel whatever is still in flight, wait for it, and free the ring. */
void uring_free(struct uring *ring);

#endif
