#include "uring.h"

#include <errno.h>
#include <stdlib.h>

#ifdef ECHOD_HAVE_LIBURING

#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The tag of cancel requests: their completions are not reported. */
#define CANCEL_TAG UINT64_MAX

struct uring {
        struct io_uring ring;
        int event_fd;
};

int uring_new(struct uring **out, unsigned entries)
{
        struct uring *u = calloc(1, sizeof(*u));
        int r;

        if (!u)
                return -ENOMEM;
        r = io_uring_queue_init(entries, &u->ring, 0);
        if (r < 0) {
                free(u);
                return r;
        }
        u->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (u->event_fd < 0) {
                r = -errno;
                io_uring_queue_exit(&u->ring);
                free(u);
                return r;
        }
        r = io_uring_register_eventfd(&u->ring, u->event_fd);
        if (r < 0) {
                close(u->event_fd);
                io_uring_queue_exit(&u->ring);
                free(u);
                return r;
        }
        *out = u;
        return 0;
}

int uring_event_fd(const struct uring *ring)
{
        return ring->event_fd;
}

int uring_connect(struct uring *ring, int fd, const struct sockaddr *addr, socklen_t len,
                  uint64_t tag)
{
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->ring);

        if (!sqe)
                return -EBUSY;
        io_uring_prep_connect(sqe, fd, addr, len);
        io_uring_sqe_set_data64(sqe, tag);
        return 0;
}

int uring_cancel(struct uring *ring, uint64_t tag)
{
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->ring);

        if (!sqe)
                return -EBUSY;
        io_uring_prep_cancel64(sqe, tag, 0);
        io_uring_sqe_set_data64(sqe, CANCEL_TAG);
        return 0;
}

int uring_submit(struct uring *ring)
{
        int r;

        do
                r = io_uring_submit(&ring->ring);
        while (r == -EINTR);
        return r;
}

unsigned uring_reap(struct uring *ring, uring_done_fn done, void *context)
{
        struct io_uring_cqe *cqes[256];
        unsigned total = 0, n;
        eventfd_t ignored;

        /* Clear the eventfd first: a completion after this wakes the loop again. */
        (void)eventfd_read(ring->event_fd, &ignored);
        while ((n = io_uring_peek_batch_cqe(&ring->ring, cqes, 256)) > 0) {
                for (unsigned i = 0; i < n; i++) {
                        uint64_t tag = io_uring_cqe_get_data64(cqes[i]);
                        int result = cqes[i]->res;

                        /* Mark it seen before done(), which may queue more. */
                        io_uring_cqe_seen(&ring->ring, cqes[i]);
                        if (tag == CANCEL_TAG)
                                continue;
                        done(context, tag, result);
                        total++;
                }
        }
        return total;
}

void uring_free(struct uring *ring)
{
        if (!ring)
                return;
        /* Closing the ring cancels and waits for whatever is in flight. */
        io_uring_queue_exit(&ring->ring);
        close(ring->event_fd);
        free(ring);
}

#else

int uring_new(struct uring **out, unsigned entries)
{
        (void)out;
        (void)entries;
        return -ENOSYS;
}

int uring_event_fd(const struct uring *ring)
{
        (void)ring;
        return -1;
}

int uring_connect(struct uring *ring, int fd, const struct sockaddr *addr, socklen_t len,
                  uint64_t tag)
{
        (void)ring;
        (void)fd;
        (void)addr;
        (void)len;
        (void)tag;
        return -ENOSYS;
}

int uring_cancel(struct uring *ring, uint64_t tag)
{
        (void)ring;
        (void)tag;
        return -ENOSYS;
}

int uring_submit(struct uring *ring)
{
        (void)ring;
        return -ENOSYS;
}

unsigned uring_reap(struct uring *ring, uring_done_fn done, void *context)
{
        (void)ring;
        (void)done;
        (void)context;
        return 0;
}

void uring_free(struct uring *ring)
{
        (void)ring;
}

#endif
