"""A throwaway redis-server for the tests of the Redis chat backend (issue 12).

    with RedisServer() as redis:          # 127.0.0.1, a free port, its own directory
        echod --chat-backend redis.url    # "redis://127.0.0.1:PORT"
        redis.restart()                   # stop, then start again on the same port
        redis.kill()                      # SIGKILL: the store is gone at once

No persistence (--save '' --appendonly no): a restart starts empty, like a
Redis that lost its memory, unless the test asks stop(save=True) or
restart(save=True) to SAVE first (redis-server loads DIR/dump.rdb at start). Readiness comes from sd_notify: redis-server is started with
--supervised systemd and a NotifySocket of our own, and READY=1 is awaited,
then one PING answered PONG confirms it (both with an upper-bound deadline,
never a sleep). The port is picked by binding port 0 and reading it back;
redis-server cannot do that itself (--port 0 means "no TCP"), so if another
process takes the port in between, the start is retried on a new one.

call() is a minimal RESP client, for a test that looks at what the backend
stored (KEYS, XLEN, TTL ...).
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import echotest

MISSING = "redis-server (apt-get install redis-server)"


def redis_problem():
    """None when redis-server can be run, else the line require() prints."""
    return None if shutil.which("redis-server") else MISSING


def require_redis():
    """Exit 1 with "MISSING: redis-server (apt-get install redis-server)" if it is not installed."""
    echotest.require(redis_problem())


class RedisError(Exception):
    """An error reply (-ERR ...) from Redis."""


def _encode(args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("redis closed the connection")
        self.buffer += data

    def _line(self):
        while b"\r\n" not in self.buffer:
            self._fill()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def _exactly(self, n):
        while len(self.buffer) < n + 2:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exactly(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RedisError("unexpected reply %r" % line)


def call(host, port, *args, timeout=5.0):
    """One command on a fresh connection; returns the decoded reply."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(_encode(args))
        return _Reader(sock).reply()


class RedisServer:
    """redis-server on 127.0.0.1 with no persistence, in a directory of its own."""

    HOST = "127.0.0.1"

    def __init__(self, port=None, start=True, ready_timeout=30.0, extra=(), unix=False):
        require_redis()
        self.dir = tempfile.mkdtemp(prefix="echod-redis-")
        self.log_path = os.path.join(self.dir, "redis.log")
        # unix=True: a unix socket too (unix_url), beside TCP.
        self.socket_path = os.path.join(self.dir, "redis.sock") if unix else None
        self.ready_timeout = ready_timeout
        self.extra = list(extra)
        self.fixed_port = port is not None
        self.port = port
        self.proc = None
        self.notify = None
        if start:
            try:
                self.start()
            except BaseException:
                self.close()
                raise

    @property
    def url(self):
        return "redis://%s:%d" % (self.HOST, self.port)

    @property
    def unix_url(self):
        assert self.socket_path, "RedisServer(unix=True) has a unix socket"
        return "unix:" + self.socket_path

    @property
    def address(self):
        return (self.HOST, self.port)

    def argv(self):
        return ["redis-server", "--bind", self.HOST, "--port", str(self.port),
                "--save", "", "--appendonly", "no", "--dir", self.dir,
                "--daemonize", "no", "--supervised", "systemd",
                "--logfile", self.log_path] + (
                    ["--unixsocket", self.socket_path, "--unixsocketperm", "700"]
                    if self.socket_path else []) + self.extra

    def start(self, attempts=5):
        """Start redis-server and return once it answers PING (on self.port once it has one)."""
        assert not self.running(), "redis-server is already running"
        for attempt in range(attempts):
            if self.port is None:
                self.port = echotest.free_port()
            if self._start_once():
                return self
            # The port was taken between free_port() and redis-server's bind:
            # only a port we picked ourselves may be changed.
            if self.fixed_port or attempt == attempts - 1:
                break
            self.port = None
        raise AssertionError("redis-server did not start on port %s: %s"
                             % (self.port, self.log_tail()))

    def _start_once(self):
        if self.notify:
            self.notify.close()
        self.notify = echotest.NotifySocket()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NOTIFY_SOCKET": self.notify.path}
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=env, cwd=self.dir)
        deadline = time.monotonic() + self.ready_timeout
        # READY=1 (or the process's exit, which a wait on the socket cannot see: poll it in
        # short slices of the same deadline).
        while True:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise AssertionError("redis-server sent no READY=1 within %ss: %s"
                                     % (self.ready_timeout, self.log_tail()))
            try:
                self.notify.wait_key("READY", "1", timeout=min(left, 0.5))
                break
            except TimeoutError:
                continue
        self.wait_ping(deadline - time.monotonic())
        return True

    def wait_ping(self, timeout=10.0):
        """Until PING answers PONG (an upper-bound deadline; used after READY=1)."""
        deadline = time.monotonic() + max(timeout, 1.0)
        while True:
            try:
                if self.call("PING", timeout=max(deadline - time.monotonic(), 0.1)) == "PONG":
                    return
            except (OSError, RedisError, ConnectionError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError("redis-server on port %d does not answer PING: %s"
                                     % (self.port, self.log_tail()))
            time.sleep(0.05)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20.0, save=False):
        """SIGTERM and wait (redis-server closes every client connection).

        save=True writes the data set to DIR/dump.rdb first (SAVE), and the
        next start() loads it: a Redis with persistence restarted. Without it
        the next start() is empty."""
        if self.proc is None:
            return None
        if save and self.proc.poll() is None:
            self.call("SAVE", timeout=60)
        elif not save:
            try:
                os.unlink(os.path.join(self.dir, "dump.rdb"))
            except FileNotFoundError:
                pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        status = self.proc.returncode
        self.proc = None
        return status

    def kill(self):
        """SIGKILL: gone at once, connections reset."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc = None

    def restart(self, save=False):
        """stop(save), then start() on the same port (empty unless save)."""
        self.stop(save=save)
        fixed, self.fixed_port = self.fixed_port, True
        try:
            self.start()
        finally:
            self.fixed_port = fixed
        return self

    def call(self, *args, timeout=5.0):
        return call(self.HOST, self.port, *args, timeout=timeout)

    def log_tail(self, size=3000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-size:]
        except OSError:
            return "(no log)"

    def close(self):
        self.kill()
        if self.notify:
            self.notify.close()
            self.notify = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _listen(server):
    """A listening socket on a free 127.0.0.1 port for a test's stand-in Redis."""
    server.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.listener.bind(("127.0.0.1", 0))
    server.listener.listen(16)
    server.port = server.listener.getsockname()[1]
    server.url = "redis://127.0.0.1:%d" % server.port
    server.lock = threading.Condition()
    server.socks = []


def _serve_forever(server):
    """Hand each accepted connection to server._accepted(), until the listener closes."""
    def accept():
        while True:
            try:
                sock, _ = server.listener.accept()
            except OSError:
                return
            server._accepted(sock)
    threading.Thread(target=accept, daemon=True).start()


class HoldingProxy:
    """A TCP proxy in front of a Redis, for a node's connections to it. Two
    ways to stall a node halfway through a call:

    arm(marker): the first connection to send marker (in what the node
    writes) is then held both ways, that write included, until release():
    what it sends does not reach Redis, what Redis says does not reach it.
    held.wait() tells when that happened.

    hold_replies(): the connections open at that moment still reach Redis
    (their commands run) but get no reply until release(); seen(marker)
    waits until one of them has sent marker.

    blackhole(marker): every connection that has sent marker, or sends it
    from now on, loses its Redis side (closed, so Redis drops that client)
    while the node's side stays open and silent: what it sends is swallowed,
    nothing comes back, no FIN, no RST (a NAT or firewall that forgot the
    connection). cut.wait() tells when the first one was cut; restore()
    lets new connections through again (the cut ones stay cut).

    Other connections pass freely."""

    def __init__(self, target):
        self.target = target
        _listen(self)
        self.marker = None
        self.holding = None         # the pair held both ways (arm)
        self.replies_held = set()   # the pairs whose replies are held (hold_replies)
        self.pairs = []
        self.sent = b""             # what held connections sent since hold_replies()
        self.held = threading.Event()
        self.blackhole_marker = None
        self.cut_pairs = set()      # pairs whose Redis side is gone (blackhole)
        self.history = {}           # pair -> the last bytes it sent upstream
        self.cut = threading.Event()
        self.closed = False
        _serve_forever(self)

    def _accepted(self, client):
        try:
            server = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        pair = (client, server)
        with self.lock:
            self.socks += [client, server]
            self.pairs.append(pair)
        threading.Thread(target=self._pump, args=(client, server, pair, True),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(server, client, pair, False),
                         daemon=True).start()

    def _stalled(self, pair, upstream):
        if self.closed:
            return False
        return self.holding is pair or (not upstream and pair in self.replies_held)

    def _pump(self, source, sink, pair, upstream):
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                with self.lock:
                    if pair in self.cut_pairs:
                        # Only Redis's side went; the node's stays open until the node closes it.
                        if upstream:
                            source.close()
                        return
                for s in (source, sink):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return
            with self.lock:
                if upstream:
                    self.history[pair] = (self.history.get(pair, b"") + data)[-4096:]
                    if (self.blackhole_marker and pair not in self.cut_pairs
                            and self.blackhole_marker in self.history[pair]):
                        self._cut(pair)
                if pair in self.cut_pairs:
                    continue  # swallowed
                if upstream and pair in self.replies_held:
                    self.sent = (self.sent + data)[-65536:]
                    self.lock.notify_all()
                if upstream and self.marker and self.marker in data:
                    self.marker = None
                    self.holding = pair
                    self.held.set()
                while self._stalled(pair, upstream):
                    self.lock.wait()
            try:
                sink.sendall(data)
            except OSError:
                return

    def arm(self, marker):
        with self.lock:
            self.marker = marker

    def hold_replies(self):
        with self.lock:
            self.replies_held = set(self.pairs)
            self.sent = b""

    def _cut(self, pair):
        self.cut_pairs.add(pair)
        try:
            pair[1].shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.cut.set()

    def blackhole(self, marker):
        with self.lock:
            self.blackhole_marker = marker
            for pair in self.pairs:
                if pair not in self.cut_pairs and marker in self.history.get(pair, b""):
                    self._cut(pair)

    def restore(self):
        with self.lock:
            self.blackhole_marker = None

    def seen(self, marker, timeout=30.0):
        with self.lock:
            return self.lock.wait_for(lambda: marker in self.sent, timeout)

    def release(self):
        with self.lock:
            self.holding = None
            self.replies_held = set()
            self.lock.notify_all()

    def close(self):
        with self.lock:
            self.closed = True
            self.holding = None
            self.replies_held = set()
            self.lock.notify_all()
        self.listener.close()
        for s in self.socks:
            s.close()


def _parse_command(buffer):
    """(argv, rest) for the first whole RESP command in buffer, or (None, buffer)."""
    if not buffer.startswith(b"*") or b"\r\n" not in buffer:
        return None, buffer
    head, _, rest = buffer.partition(b"\r\n")
    argv = []
    for _ in range(int(head[1:])):
        if b"\r\n" not in rest:
            return None, buffer
        size, _, rest = rest.partition(b"\r\n")
        n = int(size[1:])
        if len(rest) < n + 2:
            return None, buffer
        argv.append(rest[:n])
        rest = rest[n + 2:]
    return argv, rest


class FakeRedis:
    """A TCP server speaking just enough RESP to pass for an empty Redis
    (PING, SELECT, TIME, XREVRANGE, XRANGE, EVAL), except that each SUBSCRIBE
    is answered with the next of subscribe_replies (raw bytes), the last one
    again once they run out. subscribes counts the SUBSCRIBEs received;
    wait_subscribes(n) waits until n have been answered."""

    def __init__(self, subscribe_replies):
        self.replies = list(subscribe_replies)
        _listen(self)
        self.subscribes = 0
        _serve_forever(self)

    def _accepted(self, sock):
        with self.lock:
            self.socks.append(sock)
        threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _answer(self, argv):
        name = argv[0].upper() if argv else b""
        if name == b"SUBSCRIBE":
            with self.lock:
                reply = self.replies[min(self.subscribes, len(self.replies) - 1)]
                self.subscribes += 1
                self.lock.notify_all()
            return reply
        if name == b"TIME":
            now = time.time()
            return _encode([str(int(now)), str(int(now % 1 * 1000000))])
        if name in (b"XREVRANGE", b"XRANGE"):
            return b"*0\r\n"
        if name == b"EVAL":
            return b":0\r\n"
        if name == b"PING":
            return b"+PONG\r\n"
        return b"+OK\r\n"

    def _serve(self, sock):
        buffer = b""
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                sock.close()
                return
            buffer += data
            while True:
                argv, buffer = _parse_command(buffer)
                if argv is None:
                    break
                try:
                    sock.sendall(self._answer(argv))
                except OSError:
                    return

    def wait_subscribes(self, count, timeout=30.0):
        with self.lock:
            return self.lock.wait_for(lambda: self.subscribes >= count, timeout)

    def close(self):
        self.listener.close()
        with self.lock:
            for sock in self.socks:
                try:
                    sock.close()
                except OSError:
                    pass
