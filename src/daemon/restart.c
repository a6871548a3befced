#include "restart.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include "handover.h"

/* How long the stored state may take to reach systemd before we exit anyway. */
#define RESTART_BARRIER_USEC (5 * 1000000ull)
/* Seconds a stop-mode file stays good: ExecStop= runs just before SIGTERM. */
#define RESTART_MODE_MAX_AGE 120
/* How long systemd may take to say what job is pending. */
#define RESTART_BUS_TIMEOUT_USEC (3 * 1000000ull)

static int mode_path(char *path, size_t size)
{
        const char *dir = getenv("RUNTIME_DIRECTORY");
        int n;

        if (!dir || !*dir)
                return -ENOENT;
        n = snprintf(path, size, "%.*s/%s", (int)strcspn(dir, ":"), dir, RESTART_MODE_FILE);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The type of the pending job of the unit whose main process is pid ("restart", "stop", ...). */
static int pending_job_type(sd_bus *bus, pid_t pid, char **type)
{
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *unit_path, *job_path;
        uint32_t job_id;
        char *unit = NULL;
        int r;

        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "GetUnitByPID", &error, &reply,
                               "u", (uint32_t)pid);
        if (r < 0)
                goto out;
        r = sd_bus_message_read(reply, "o", &unit_path);
        if (r < 0)
                goto out;
        unit = strdup(unit_path);
        sd_bus_message_unref(reply);
        reply = NULL;
        if (!unit) {
                r = -ENOMEM;
                goto out;
        }
        r = sd_bus_get_property(bus, "org.freedesktop.systemd1", unit,
                                "org.freedesktop.systemd1.Unit", "Job", &error, &reply, "(uo)");
        if (r < 0)
                goto out;
        r = sd_bus_message_read(reply, "(uo)", &job_id, &job_path);
        if (r < 0)
                goto out;
        if (job_id == 0) {
                r = -ENOENT; /* no job: the process stops on its own */
                goto out;
        }
        r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", job_path,
                                       "org.freedesktop.systemd1.Job", "JobType", &error, type);
out:
        sd_bus_message_unref(reply);
        sd_bus_error_free(&error);
        free(unit);
        return r;
}

/*
 * systemd's own private socket, as systemctl uses it as root: no dbus-daemon
 * needed (a minimal server may have none), and none to hang on while the
 * system shuts down. Method calls time out after a few seconds.
 */
static int connect_systemd(sd_bus **bus)
{
        int r = sd_bus_new(bus);

        if (r < 0)
                return r;
        r = sd_bus_set_address(*bus, "unix:path=/run/systemd/private");
        if (r >= 0)
                r = sd_bus_set_method_call_timeout(*bus, RESTART_BUS_TIMEOUT_USEC);
        if (r >= 0)
                r = sd_bus_start(*bus);
        if (r < 0) {
                *bus = sd_bus_unref(*bus);
                return r;
        }
        return 0;
}

int restart_announce_stop(void)
{
        const char *main_pid = getenv("MAINPID");
        char path[4096], *type = NULL;
        const char *mode = "stop";
        sd_bus *bus = NULL;
        int fd, r;

        r = mode_path(path, sizeof(path));
        if (r < 0)
                return r;
        if (!main_pid || !*main_pid)
                return -ESRCH;
        r = connect_systemd(&bus);
        if (r >= 0)
                r = pending_job_type(bus, (pid_t)strtol(main_pid, NULL, 10), &type);
        /* Anything but a clear "restart" drains: that never leaves a connection unserved. */
        if (r >= 0 && type && strcmp(type, "restart") == 0)
                mode = "restart";
        free(type);
        sd_bus_flush_close_unref(bus);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        /* The daemon runs as another (dynamic) user: it must be able to read this. */
        (void)fchmod(fd, 0644);
        r = write(fd, mode, strlen(mode)) == (ssize_t)strlen(mode) ? 0 : -EIO;
        close(fd);
        return r;
}

int restart_check_state_version(const char *text)
{
        char *end = NULL;
        unsigned long version;

        if (!text || *text < '0' || *text > '9')
                return -EINVAL;
        errno = 0;
        version = strtoul(text, &end, 10);
        if (errno || !end || *end)
                return -EINVAL;
        return version == HANDOVER_VERSION ? 0 : -EPROTO;
}

bool restart_requested(void)
{
        char path[4096], mode[16] = "";
        struct stat st;
        bool stale;
        ssize_t n;
        int fd;

        if (mode_path(path, sizeof(path)) < 0)
                return false;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
                return false;
        n = read(fd, mode, sizeof(mode) - 1);
        /*
         * The runtime directory outlives the process (RuntimeDirectoryPreserve=
         * for the control socket): a file older than a stop can take is stale,
         * left by a process that died before reading it.
         */
        stale = fstat(fd, &st) < 0 || time(NULL) - st.st_mtime > RESTART_MODE_MAX_AGE;
        close(fd);
        (void)unlink(path);
        return !stale && n == 7 && memcmp(mode, "restart", 7) == 0 && restart_possible();
}

bool restart_possible(void)
{
        const char *socket = getenv("NOTIFY_SOCKET");

        return socket && *socket;
}

int restart_store_fd(int fd, uint64_t token)
{
        char message[64];

        snprintf(message, sizeof(message), "FDSTORE=1\nFDNAME=" RESTART_CONN_PREFIX "%" PRIu64,
                 token);
        return sd_pid_notify_with_fds(0, 0, message, &fd, 1) > 0 ? 0 : -EIO;
}

int restart_store_state(const unsigned char *state, size_t length)
{
        size_t done = 0;
        int fd, r;

        fd = memfd_create(RESTART_STATE_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        while (done < length) {
                ssize_t n = write(fd, state + done, length - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : -EIO;
                        close(fd);
                        return r;
                }
                done += (size_t)n;
        }
        /* Nobody changes it in the store: the next process reads what this one wrote. */
        (void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
        r = sd_pid_notify_with_fds(0, 0, "FDSTORE=1\nFDNAME=" RESTART_STATE_NAME, &fd, 1);
        close(fd);
        if (r <= 0)
                return r < 0 ? r : -EIO;
        /* The sockets and the state must reach systemd before this process is gone. */
        r = sd_notify_barrier(0, RESTART_BARRIER_USEC);
        return r < 0 ? r : 0;
}

int restart_claim(struct restart_inherited *inherited, int fd, const char *name)
{
        size_t prefix = strlen(RESTART_CONN_PREFIX);
        char *end = NULL;
        uint64_t token;

        if (strcmp(name, RESTART_STATE_NAME) == 0) {
                if (inherited->state_fd >= 0)
                        close(inherited->state_fd);
                inherited->state_fd = fd;
                return 1;
        }
        if (strncmp(name, RESTART_CONN_PREFIX, prefix) != 0)
                return 0;
        errno = 0;
        token = strtoull(name + prefix, &end, 10);
        if (errno || !end || *end || end == name + prefix)
                return 0;
        if (inherited->conn_count == inherited->conn_capacity) {
                size_t capacity = inherited->conn_capacity ? inherited->conn_capacity * 2 : 64;
                void *bigger = realloc(inherited->conns, capacity * sizeof(*inherited->conns));

                if (!bigger)
                        return -ENOMEM;
                inherited->conns = bigger;
                inherited->conn_capacity = capacity;
        }
        inherited->conns[inherited->conn_count].fd = fd;
        inherited->conns[inherited->conn_count].token = token;
        inherited->conns[inherited->conn_count].taken = false;
        inherited->conn_count++;
        return 1;
}

int restart_read_state(struct restart_inherited *inherited, unsigned char **data, size_t *length)
{
        struct stat st;
        unsigned char *buffer;
        size_t done = 0;

        if (inherited->state_fd < 0)
                return -ENOENT;
        if (fstat(inherited->state_fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t)st.st_size > HANDOVER_MAX)
                return -EBADMSG;
        buffer = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
        if (!buffer)
                return -ENOMEM;
        while (done < (size_t)st.st_size) {
                ssize_t n = pread(inherited->state_fd, buffer + done, (size_t)st.st_size - done,
                                  (off_t)done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        free(buffer);
                        return n < 0 ? -errno : -EBADMSG;
                }
                done += (size_t)n;
        }
        *data = buffer;
        *length = done;
        return 0;
}

int restart_take_fd(struct restart_inherited *inherited, uint64_t token)
{
        for (size_t i = 0; i < inherited->conn_count; i++) {
                if (inherited->conns[i].token == token && !inherited->conns[i].taken) {
                        inherited->conns[i].taken = true;
                        return inherited->conns[i].fd;
                }
        }
        return -1;
}

static int socket_option(int fd, int option, int *value)
{
        socklen_t length = sizeof(*value);

        return getsockopt(fd, SOL_SOCKET, option, value, &length) < 0 ? -errno : 0;
}

int restart_check_connection(int fd, bool unix_allowed)
{
        struct sockaddr_storage peer;
        socklen_t length = sizeof(peer);
        int type, domain, protocol, listening;

        if (socket_option(fd, SO_TYPE, &type) < 0)
                return -ENOTSOCK;
        if (type != SOCK_STREAM)
                return -EPROTOTYPE;
        if (socket_option(fd, SO_DOMAIN, &domain) < 0 ||
            socket_option(fd, SO_PROTOCOL, &protocol) < 0)
                return -ENOTSOCK;
        if (domain == AF_INET || domain == AF_INET6) {
                /* SCTP has stream sockets too. */
                if (protocol != IPPROTO_TCP)
                        return -EPROTONOSUPPORT;
        } else if (domain != AF_UNIX || !unix_allowed) {
                return -EAFNOSUPPORT;
        }
        /* A listener, or a socket never connected, is no connection to serve on. */
        if (socket_option(fd, SO_ACCEPTCONN, &listening) < 0 || listening)
                return -ENOTCONN;
        if (getpeername(fd, (struct sockaddr *)&peer, &length) < 0)
                return -errno;
        return 0;
}

static void remove_from_store(const char *name)
{
        char message[96];

        snprintf(message, sizeof(message), "FDSTOREREMOVE=1\nFDNAME=%s", name);
        (void)sd_notify(0, message);
}

size_t restart_finish(struct restart_inherited *inherited)
{
        size_t closed = 0;
        char name[64];

        for (size_t i = 0; i < inherited->conn_count; i++) {
                snprintf(name, sizeof(name), RESTART_CONN_PREFIX "%" PRIu64,
                         inherited->conns[i].token);
                remove_from_store(name);
        }
        if (inherited->state_fd >= 0) {
                remove_from_store(RESTART_STATE_NAME);
                close(inherited->state_fd);
                inherited->state_fd = -1;
        }
        /* Only once systemd dropped its copies does closing ours end a connection. */
        if (inherited->conn_count > 0)
                (void)sd_notify_barrier(0, RESTART_BARRIER_USEC);
        for (size_t i = 0; i < inherited->conn_count; i++) {
                if (!inherited->conns[i].taken) {
                        close(inherited->conns[i].fd);
                        closed++;
                }
        }
        free(inherited->conns);
        inherited->conns = NULL;
        inherited->conn_count = inherited->conn_capacity = 0;
        return closed;
}
