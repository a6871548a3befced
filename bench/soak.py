#!/usr/bin/python3
"""Soak one echod under a mixed load for a long time and watch it for growth.

One echod (TCP and UDP echo, the chat, a control socket, all on 127.0.0.1 or
a temporary directory) serves, for --duration seconds (default 1800):

- TCP echo of many sizes (1 B to 1 MiB) on a few long-lived connections,
  every byte checked (each connection is replaced now and then);
- UDP echo, one datagram in flight per socket, every byte checked;
- connect/close churn: short connections that echo a few bytes or nothing;
- slow readers: connections that send 256 KiB in small pieces and read it
  back slowly, then finish;
- SIGHUP every 10 s, each followed by RELOADING=1 and READY=1 on our own
  NOTIFY_SOCKET (the readiness signal, never a sleep);
- chat: a few users registered once (argon2id), then rounds in which they
  log in with their session tokens, exchange messages and quit; every
  message must reach every other connection of the round, once, in order;
- control: `echoctl status`, `stats` and `users` now and then.

Every second it samples echod's RSS (/proc/PID/status VmRSS), open
descriptors (/proc/PID/fd) and CPU time (/proc/PID/stat). At the end it
prints the start, peak and end of RSS and descriptors, the CPU used and the
count of every operation. It fails (exit status 1) if a byte came back
wrong, an operation failed, echod died or reported a sanitizer error, or RSS
or descriptors grew: the mean of the last 20 % of the samples against the
mean of the 20-40 % window, with a margin generous enough for a loaded
machine (RSS +25 % + 8 MiB, descriptors +20 by default).

Every load is bounded in count and time and stops by itself.

Usage (from the source tree, after building into build/):
    /usr/bin/python3 bench/soak.py [--duration 1800] [--json FILE]
"""

import argparse
import json
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import chatlib  # noqa: E402  (bench/chatlib.py: the chat login dialogue)

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = 1 << 20
# Sizes of the TCP echo exchanges, with their weights: mostly small, now and
# then up to 1 MiB.
TCP_SIZES = [(1, 10), (7, 5), (100, 10), (1024, 20), (4096, 10), (16384, 8),
             (65536, 6), (262144, 3), (1048576, 1)]
UDP_SIZES = [1, 8, 64, 512, 1400, 4096, 16384, 65507]
# One block of random bytes; payloads are slices of it behind a unique header.
RANDOM = os.urandom(2 * PAGE + 65536)


def log(text):
    print("soak: " + text, file=sys.stderr, flush=True)


class Failure(Exception):
    pass


class Notify:
    """A unix datagram socket standing in for systemd's notify socket, read by
    a thread of its own so that no message is missed."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []
        self.cond = threading.Condition()
        self.closed = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self.closed:
            ready, _, _ = select.select([self.sock], [], [], 0.5)
            if not ready:
                continue
            try:
                data = self.sock.recv(65536).decode("utf-8", "replace")
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.split("\n") if "=" in line)
            with self.cond:
                self.messages.append(fields)
                self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.messages)

    def wait_key(self, key, value, since, timeout):
        """The index of the first message after SINCE with KEY=VALUE."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(since, len(self.messages)):
                    if self.messages[i].get(key) == value:
                        return i
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failure("no %s=%s on the notify socket within %.0f s" % (key, value, timeout))
                self.cond.wait(left)

    def close(self):
        self.closed = True
        self.sock.close()


class Echod:
    """echod with TCP and UDP echo, the chat and a control socket."""

    def __init__(self, build, tmp, extra):
        self.tmp = tmp
        self.notify = Notify(os.path.join(tmp, "notify"))
        self.control = os.path.join(tmp, "control")
        argv = [os.path.join(build, "programs", "echod"), "--config", "/dev/null",
                "--echo", "127.0.0.1:0", "--echo", "udp:127.0.0.1:0", "--chat", "127.0.0.1:0",
                "--control", self.control, "--state-dir", tmp,
                # Generous limits: the load is ours and comes from one address.
                "--udp-rate", "100000", "--udp-burst", "100000", "--udp-global-rate", "100000",
                "--chat-rate", "10000", "--chat-burst", "10000",
                "--chat-max-users", "1000", "--chat-max-pending-per-address", "100000"] + list(extra)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NOTIFY_SOCKET": self.notify.path}
        for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if key in os.environ:
                env[key] = os.environ[key]
        self.stdout_path = os.path.join(tmp, "stdout")
        self.stderr_path = os.path.join(tmp, "stderr")
        # Files, not pipes: a pipe nobody drains would stall echod's logging.
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=env, cwd=tmp)
        self.pid = self.proc.pid
        try:
            self.notify.wait_key("READY", "1", 0, 30)
        except Failure:
            self.proc.kill()
            self.proc.wait()
            raise Failure("echod did not become ready: %s" % self.stderr()[-2000:])
        ports = {}
        with open(self.stdout_path) as f:
            for line in f:
                words = line.split()
                if len(words) == 3 and words[0] == "listening" and not words[1].endswith("/unix"):
                    ports[words[1]] = int(words[2].rsplit(":", 1)[1])
        # Under AddressSanitizer freed memory waits in a quarantine (up to
        # 256 MiB by default) before it is reused, so RSS grows for minutes
        # without any leak: the RSS check is reported but not enforced then.
        with open("/proc/%d/maps" % self.pid) as f:
            self.asan = any("libasan" in line or "clang_rt.asan" in line for line in f)
        self.tcp_port = ports["echo/tcp"]
        self.udp_port = ports["echo/udp"]
        self.chat_port = ports["chat/tcp"]

    def alive(self):
        return self.proc.poll() is None

    def stderr(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode


def sample(pid):
    """(RSS in KiB, open descriptors, CPU seconds) of a process."""
    rss = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
                break
    fds = len(os.listdir("/proc/%d/fd" % pid))
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS
    return rss, fds, cpu


def payload(rng, size, tag):
    """SIZE bytes: a unique header, then random bytes from a random offset."""
    head = tag.encode()[:size]
    start = rng.randrange(0, len(RANDOM) - size)
    return head + RANDOM[start:start + size - len(head)]


def exchange(sock, data, deadline, send_chunk=None, recv_chunk=None, pause=0.0):
    """Send DATA and read back as many bytes; return what came back.

    Sends and reads at once (select), so that a payload larger than the
    buffers on the way cannot deadlock. With the chunks and PAUSE it is a
    slow client: at most SEND_CHUNK bytes per send and RECV_CHUNK per recv,
    PAUSE seconds apart."""
    sock.setblocking(False)
    sent = 0
    got = []
    received = 0
    view = memoryview(data)
    while received < len(data):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Failure("timed out: %d of %d bytes sent, %d back" % (sent, len(data), received))
        wants = [sock] if sent < len(data) else []
        readable, writable, _ = select.select([sock], wants, [], min(left, 1.0))
        if writable:
            end = len(data) if send_chunk is None else min(len(data), sent + send_chunk)
            try:
                sent += sock.send(view[sent:end])
            except (BlockingIOError, InterruptedError):
                pass
        if readable:
            try:
                piece = sock.recv(recv_chunk or 262144)
            except (BlockingIOError, InterruptedError):
                piece = None
            if piece is not None:
                if not piece:
                    raise Failure("echod closed the connection: %d of %d bytes back"
                                  % (received, len(data)))
                got.append(piece)
                received += len(piece)
        if pause:
            time.sleep(pause)
    back = b"".join(got)
    return back


class Soak:
    def __init__(self, args, echod):
        self.args = args
        self.echod = echod
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts = {}
        self.failures = []
        self.samples = []
        self.reload_ms = []

    def count(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    def fail(self, what):
        with self.lock:
            self.failures.append(what)
            first = len(self.failures) <= 20
        if first:
            log("FAILURE: " + what)

    def worker(self, name, body):
        """Run BODY until the end, catching and recording what goes wrong."""
        def run():
            while not self.stop.is_set():
                try:
                    body()
                except Failure as e:
                    if not self.stop.is_set() or "timed out" not in str(e):
                        self.fail("%s: %s" % (name, e))
                except Exception as e:  # noqa: BLE001  (anything else is a failure too)
                    if not self.stop.is_set():
                        self.fail("%s: %s: %s" % (name, type(e).__name__, e))
                else:
                    continue
                # After a failure: no busy loop, and stop everything if echod is gone.
                if not self.echod.alive():
                    self.stop.set()
                self.stop.wait(0.5)
        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        return thread

    def deadline(self):
        return time.monotonic() + self.args.op_timeout

    # TCP echo on long-lived connections, replaced every 200 exchanges.
    def tcp_echo(self, index):
        rng = random.Random(index)
        sizes = [s for s, _ in TCP_SIZES]
        weights = [w for _, w in TCP_SIZES]
        seq = [0]

        def body():
            with socket.create_connection(("127.0.0.1", self.echod.tcp_port), timeout=30) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for _ in range(200):
                    if self.stop.is_set():
                        return
                    size = rng.choices(sizes, weights)[0]
                    seq[0] += 1
                    data = payload(rng, size, "tcp%d.%d " % (index, seq[0]))
                    back = exchange(sock, data, self.deadline())
                    if back != data:
                        self.count("tcp_bad_bytes")
                        raise Failure("%d-byte echo came back different (%d bytes)"
                                      % (size, len(back)))
                    self.count("tcp_echoes")
                    self.count("tcp_bytes", size)
                    self.pace(self.args.tcp_rate)
            self.count("tcp_reconnects")
        return body

    def pace(self, rate):
        if rate > 0:
            self.stop.wait(random.expovariate(rate))

    def udp_echo(self, index):
        rng = random.Random(1000 + index)
        seq = [0]

        def body():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                # An ephemeral port (>= 1024 on Linux): echod drops low ports.
                sock.bind(("127.0.0.1", 0))
                if sock.getsockname()[1] < 1024:
                    raise Failure("ephemeral UDP port below 1024")
                sock.connect(("127.0.0.1", self.echod.udp_port))
                for _ in range(500):
                    if self.stop.is_set():
                        return
                    seq[0] += 1
                    size = rng.choice(UDP_SIZES)
                    data = payload(rng, size, "udp%d.%d " % (index, seq[0]))
                    sock.send(data)
                    deadline = time.monotonic() + self.args.udp_timeout
                    while True:
                        left = deadline - time.monotonic()
                        ready, _, _ = select.select([sock], [], [], max(left, 0))
                        if not ready:
                            self.count("udp_lost")
                            raise Failure("no reply to a %d-byte datagram in %.0f s"
                                          % (size, self.args.udp_timeout))
                        back = sock.recv(65536)
                        if back == data:
                            break
                        # One datagram in flight, and a new socket after a
                        # lost one: anything else is a wrong echo.
                        self.count("udp_bad_bytes")
                        raise Failure("%d-byte datagram came back different" % size)
                    self.count("udp_echoes")
                    self.count("udp_bytes", size)
                    self.pace(self.args.udp_rate)
        return body

    def churn(self):
        rng = random.Random(7)

        def body():
            with socket.create_connection(("127.0.0.1", self.echod.tcp_port), timeout=30) as sock:
                if rng.random() < 0.7:
                    data = payload(rng, rng.randint(1, 2048), "churn ")
                    if exchange(sock, data, self.deadline()) != data:
                        self.count("churn_bad_bytes")
                        raise Failure("churn echo came back different")
                    if rng.random() < 0.5:
                        # Half-close: echod must echo what it has, then close.
                        sock.shutdown(socket.SHUT_WR)
                        sock.setblocking(True)
                        sock.settimeout(30)
                        if sock.recv(1) != b"":
                            raise Failure("data after the echo on a half-closed connection")
            self.count("churn_connections")
            self.pace(self.args.churn_rate)
        return body

    def slow_reader(self, index):
        rng = random.Random(2000 + index)

        def body():
            with socket.create_connection(("127.0.0.1", self.echod.tcp_port), timeout=30) as sock:
                data = payload(rng, self.args.slow_bytes, "slow%d " % index)
                # Sends faster than it reads: echod's output to it fills,
                # echod stops reading it, and our sends wait in turn.
                back = exchange(sock, data, time.monotonic() + self.args.op_timeout + 60,
                                send_chunk=16384, recv_chunk=2048, pause=self.args.slow_pause)
                if back != data:
                    self.count("slow_bad_bytes")
                    raise Failure("slow reader's bytes came back different")
            self.count("slow_readers")
            self.count("slow_bytes", len(data))
            self.stop.wait(rng.uniform(0, 1))
        return body

    def sighup(self):
        def body():
            if self.stop.wait(self.args.hup_interval):
                return
            mark = self.echod.notify.mark()
            started = time.monotonic()
            os.kill(self.echod.pid, signal.SIGHUP)
            i = self.echod.notify.wait_key("RELOADING", "1", mark, 60)
            self.echod.notify.wait_key("READY", "1", i + 1, 60)
            self.reload_ms.append((time.monotonic() - started) * 1000)
            self.count("sighups")
        return body

    def control(self):
        echoctl = os.path.join(self.args.build, "programs", "echoctl")
        commands = [["status"], ["stats"], ["users"], ["--json", "stats"]]
        turn = [0]

        def body():
            if self.stop.wait(self.args.control_interval):
                return
            command = commands[turn[0] % len(commands)]
            turn[0] += 1
            run = subprocess.run([echoctl, "--socket", self.echod.control] + command,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            out = run.stdout.decode("utf-8", "replace")
            good = out.startswith("{\"ok\":true") if command[0] == "--json" else out.startswith("ok")
            if run.returncode != 0 or not good:
                raise Failure("echoctl %s: exit %d, %r %r" % (" ".join(command), run.returncode,
                                                              out[:200], run.stderr[:200]))
            self.count("control_commands")
        return body

    def chat(self, tokens):
        names = sorted(tokens)
        rng = random.Random(3)
        turn = [0]

        def body():
            turn[0] += 1
            people = rng.sample(names, self.args.chat_round_users)
            conns = []
            try:
                for name in people:
                    sock, token = chatlib.chat_login(self.echod.chat_port, name,
                                                     token=tokens[name], timeout=self.args.op_timeout)
                    if token != tokens[name]:
                        raise Failure("token login of %s answered another token" % name)
                    conns.append((name, sock, chatlib.Lines(sock)))
                    self.count("chat_logins")
                sent = {}
                for name, sock, _ in conns:
                    texts = ["soak r%d %s m%d %s" % (turn[0], name, i, "x" * rng.randint(0, 200))
                             for i in range(self.args.chat_messages)]
                    sock.sendall("".join(t + "\n" for t in texts).encode())
                    sent[name] = texts
                    self.count("chat_messages", len(texts))
                # Each connection must get every other one's messages, once, in order.
                for name, sock, lines in conns:
                    want = {other: list(texts) for other, texts in sent.items() if other != name}
                    deadline = time.monotonic() + self.args.op_timeout
                    while any(want.values()):
                        line = lines.readline(max(deadline - time.monotonic(), 0.001))
                        kind = line.split(" ", 1)[0]
                        if kind == "ERR":
                            raise Failure("%s got %r" % (name, line))
                        if kind != "MSG":
                            continue  # JOIN, LEAVE, HIST, ...
                        _, _, sender, text = line.split(" ", 3)
                        if not text.startswith("soak r%d " % turn[0]):
                            continue  # from an earlier round
                        if not want.get(sender) or want[sender][0] != text:
                            raise Failure("%s got %r, out of order or twice" % (name, line[:120]))
                        want[sender].pop(0)
                        self.count("chat_deliveries")
            finally:
                for _, sock, _ in conns:
                    chatlib.quit_chat(sock)
            self.count("chat_rounds")
            self.pace(self.args.chat_round_rate)
        return body

    def sampler(self):
        start = time.monotonic()
        tick = 0
        while not self.stop.is_set():
            try:
                rss, fds, cpu = sample(self.echod.pid)
            except (OSError, IndexError, ValueError):
                if not self.echod.alive():
                    self.stop.set()
                    return
                self.stop.wait(0.1)
                continue
            self.samples.append({"t": round(time.monotonic() - start, 3), "rss_kib": rss,
                                 "fds": fds, "cpu_s": cpu, "db_kib": self.db_kib()})
            tick += 1
            self.stop.wait(max(start + tick * self.args.sample_interval - time.monotonic(), 0))

    def db_kib(self):
        """The size of the chat's store on disk (chat.db with its WAL)."""
        total = 0
        for suffix in ("", "-wal", "-shm"):
            try:
                total += os.stat(os.path.join(self.echod.tmp, "chat.db" + suffix)).st_size
            except OSError:
                pass
        return total // 1024

    def register(self, log_fn):
        """Register the chat users once (password logins, one argon2id hash each)."""
        tokens = {}
        for i in range(self.args.chat_users):
            name = "soak%d" % i
            sock, token = chatlib.chat_login(self.echod.chat_port, name, chatlib.password_of(name),
                                             timeout=120)
            chatlib.quit_chat(sock)
            tokens[name] = token
        log_fn("registered %d chat users" % len(tokens))
        return tokens

    def run(self):
        tokens = self.register(log)
        sampler = threading.Thread(target=self.sampler, daemon=True)
        sampler.start()
        threads = []
        for i in range(self.args.tcp_connections):
            threads.append(self.worker("tcp-echo-%d" % i, self.tcp_echo(i)))
        for i in range(self.args.udp_sockets):
            threads.append(self.worker("udp-echo-%d" % i, self.udp_echo(i)))
        for i in range(self.args.churners):
            threads.append(self.worker("churn-%d" % i, self.churn()))
        for i in range(self.args.slow_readers):
            threads.append(self.worker("slow-reader-%d" % i, self.slow_reader(i)))
        threads.append(self.worker("sighup", self.sighup()))
        threads.append(self.worker("control", self.control()))
        threads.append(self.worker("chat", self.chat(tokens)))
        ends = time.monotonic() + self.args.duration
        next_progress = time.monotonic() + 10
        while not self.stop.is_set():
            left = ends - time.monotonic()
            if left <= 0:
                break
            self.stop.wait(min(left, 1))
            left = ends - time.monotonic()
            if not self.echod.alive():
                break
            if self.args.progress and time.monotonic() >= next_progress:
                next_progress += 10
                last = self.samples[-1] if self.samples else {}
                log("%4.0f s: RSS %s KiB, %s fds, CPU %.1f s; %s" % (
                    self.args.duration - max(left, 0), last.get("rss_kib"), last.get("fds"),
                    last.get("cpu_s", 0.0), " ".join("%s=%d" % kv for kv in sorted(self.counts.items())
                                                      if not kv[0].endswith("bytes"))))
        self.stop.set()
        for thread in threads:
            # Every operation is bounded by --op-timeout; the slow readers a bit more.
            thread.join(self.args.op_timeout + 90)
            if thread.is_alive():
                self.fail("%s did not finish" % thread.name)
        sampler.join(10)


def mean(values):
    return sum(values) / len(values) if values else 0.0


def analyse(samples, args, asan=False):
    """Start, peak and end of RSS and descriptors, and the growth check."""
    n = len(samples)
    result = {"samples": n}
    if n < 10:
        result["growth_failures"] = ["only %d samples" % n]
        return result
    base = samples[int(n * 0.2):int(n * 0.4)]
    last = samples[int(n * 0.8):]
    failures = []
    for key, pct, extra in (("rss_kib", args.rss_margin_pct, args.rss_margin_mib * 1024),
                            ("fds", 0, args.fd_margin)):
        values = [s[key] for s in samples]
        b, e = mean([s[key] for s in base]), mean([s[key] for s in last])
        limit = b * (1 + pct / 100.0) + extra
        result[key] = {"start": values[0], "peak": max(values), "end": values[-1],
                       "mean_20_40": round(b, 1), "mean_last_20": round(e, 1),
                       "limit": round(limit, 1)}
        if e > limit and key == "rss_kib" and asan:
            result["rss_not_judged"] = "under AddressSanitizer (its quarantine grows RSS)"
        elif e > limit:
            failures.append("%s grew: mean of the last 20%% %.1f > %.1f (the 20-40%% mean %.1f "
                            "+ %d%% + %d)" % (key, e, limit, b, pct, extra))
    result["cpu_s"] = round(samples[-1]["cpu_s"] - samples[0]["cpu_s"], 3)
    result["sampled_s"] = round(samples[-1]["t"] - samples[0]["t"], 1)
    db = [s["db_kib"] for s in samples]
    result["db_kib"] = {"start": db[0], "peak": max(db), "end": db[-1]}
    result["growth_failures"] = failures
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.environ.get("ECHOD_BUILD_DIR",
                                                          os.path.join(ROOT, "build")))
    parser.add_argument("--duration", type=float, default=1800.0, help="seconds of load")
    parser.add_argument("--json", help="write the result (with every sample) to this file")
    parser.add_argument("--sample-interval", type=float, default=1.0)
    parser.add_argument("--tcp-connections", type=int, default=4)
    parser.add_argument("--tcp-rate", type=float, default=50.0,
                        help="echo exchanges per second per TCP connection at most (0: no pause)")
    parser.add_argument("--udp-sockets", type=int, default=2)
    parser.add_argument("--udp-rate", type=float, default=100.0,
                        help="datagrams per second per UDP socket at most (0: no pause)")
    parser.add_argument("--udp-timeout", type=float, default=10.0)
    parser.add_argument("--churners", type=int, default=2)
    parser.add_argument("--churn-rate", type=float, default=20.0,
                        help="connections per second per churner at most")
    parser.add_argument("--slow-readers", type=int, default=3)
    parser.add_argument("--slow-bytes", type=int, default=262144)
    parser.add_argument("--slow-pause", type=float, default=0.02,
                        help="seconds between a slow reader's reads of 2 KiB")
    parser.add_argument("--hup-interval", type=float, default=10.0)
    parser.add_argument("--control-interval", type=float, default=2.0)
    parser.add_argument("--chat-users", type=int, default=4)
    parser.add_argument("--chat-round-users", type=int, default=3)
    parser.add_argument("--chat-messages", type=int, default=5, help="per user per round")
    parser.add_argument("--chat-round-rate", type=float, default=2.0, help="rounds per second at most")
    parser.add_argument("--op-timeout", type=float, default=60.0,
                        help="seconds one operation may take before it counts as failed")
    parser.add_argument("--rss-margin-pct", type=float, default=25.0)
    parser.add_argument("--rss-margin-mib", type=float, default=8.0)
    parser.add_argument("--fd-margin", type=int, default=20)
    parser.add_argument("--progress", action="store_true", help="a line every 10 s")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    args.chat_round_users = min(args.chat_round_users, args.chat_users)
    args.build = os.path.abspath(args.build)  # echod runs in its temporary directory

    tmp = tempfile.mkdtemp(prefix="echod-soak-")
    try:
        echod = Echod(args.build, tmp, [])
    except (Failure, OSError, KeyError) as e:
        print("FAIL: echod did not start: %s" % e)
        log("kept %s" % tmp)
        return 1
    log("echod pid %d: echo tcp %d, udp %d, chat %d, control %s; %.0f s of load"
        % (echod.pid, echod.tcp_port, echod.udp_port, echod.chat_port, echod.control, args.duration))
    soak = Soak(args, echod)
    started = time.monotonic()
    try:
        soak.run()
    except (Failure, OSError, chatlib.LoginError) as e:
        soak.fail("setup: %s" % e)
    finally:
        soak.stop.set()
        alive = echod.alive()
        status = echod.stop()
        echod.notify.close()
    elapsed = time.monotonic() - started
    if not alive:
        soak.failures.insert(0, "echod died (exit status %s)" % echod.proc.returncode)
    elif status != 0:
        soak.fail("echod exited with status %s on SIGTERM" % status)
    stderr = echod.stderr()
    for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        if marker in stderr:
            soak.fail("echod's log has %r" % marker)
    levels = {}
    for line in stderr.splitlines():
        if len(line) > 2 and line[0] == "<" and line[2] == ">":
            levels[line[1]] = levels.get(line[1], 0) + 1
    warnings = [line for line in stderr.splitlines() if line[:3] in ("<0>", "<1>", "<2>", "<3>", "<4>")]

    result = analyse(soak.samples, args, echod.asan)
    for failure in result["growth_failures"]:
        soak.fail(failure)
    counts = dict(sorted(soak.counts.items()))
    ops = sum(v for k, v in counts.items() if k in (
        "tcp_echoes", "udp_echoes", "churn_connections", "slow_readers", "sighups",
        "control_commands", "chat_logins", "chat_messages"))
    cpu = result.get("cpu_s", 0.0)
    report = {
        "duration_s": round(elapsed, 1),
        "echod_pid": echod.pid,
        "counts": counts,
        "operations": ops,
        "cpu_s": cpu,
        "cpu_us_per_operation": round(cpu * 1e6 / ops, 1) if ops else None,
        "echoed_mib": round(sum(counts.get(k, 0) for k in ("tcp_bytes", "udp_bytes", "slow_bytes"))
                            / PAGE, 1),
        "reload_ms": {"p50": round(sorted(soak.reload_ms)[len(soak.reload_ms) // 2], 1),
                      "max": round(max(soak.reload_ms), 1)} if soak.reload_ms else None,
        "sampled_s": result.get("sampled_s"),
        "rss_kib": result.get("rss_kib"),
        "chat_db_kib": result.get("db_kib"),
        "asan": echod.asan,
        "rss_not_judged": result.get("rss_not_judged"),
        "fds": result.get("fds"),
        "log_records_by_priority": dict(sorted(levels.items())),
        "warnings": warnings[:20],
        "failures": soak.failures,
        "ok": not soak.failures,
        "args": {k: v for k, v in vars(args).items() if k not in ("json",)},
        "samples": soak.samples,
    }

    out = sys.stdout
    out.write("echod soak: %.0f s, pid %d\n" % (elapsed, echod.pid))
    r = result.get("rss_kib")
    if r:
        out.write("RSS  start %.1f MiB, peak %.1f MiB, end %.1f MiB; mean of 20-40%% %.1f MiB, "
                  "of the last 20%% %.1f MiB (limit %.1f MiB)\n"
                  % tuple(r[f] / 1024.0 for f in ("start", "peak", "end", "mean_20_40",
                                                  "mean_last_20", "limit")))
    if result.get("rss_not_judged"):
        out.write("     RSS grew past the limit, not judged: %s\n" % result["rss_not_judged"])
    r = result.get("fds")
    if r:
        out.write("fds  start %d, peak %d, end %d; mean of 20-40%% %.1f, of the last 20%% %.1f "
                  "(limit %.1f)\n" % tuple(r[f] for f in ("start", "peak", "end", "mean_20_40",
                                                          "mean_last_20", "limit")))
    span = result.get("sampled_s") or 0
    out.write("CPU  %.2f s in %.0f s of load (%.1f %% of a core); %d operations, %s us CPU per "
              "operation; %.1f MiB echoed\n" % (cpu, span, 100.0 * cpu / span if span else 0, ops,
                                                report["cpu_us_per_operation"],
                                                report["echoed_mib"]))
    db = result.get("db_kib")
    if db:
        out.write("chat.db with its WAL: start %d KiB, peak %d KiB, end %d KiB\n"
                  % (db["start"], db["peak"], db["end"]))
    if report["reload_ms"]:
        out.write("SIGHUP to READY=1: p50 %.1f ms, max %.1f ms\n"
                  % (report["reload_ms"]["p50"], report["reload_ms"]["max"]))
    out.write("counts: %s\n" % " ".join("%s=%d" % kv for kv in counts.items()))
    out.write("log records by priority: %s\n" % " ".join("<%s>=%d" % kv for kv in levels.items()))
    for line in warnings[:10]:
        out.write("  " + line + "\n")
    if soak.failures:
        out.write("FAIL: %d failure(s)\n" % len(soak.failures))
        for failure in soak.failures[:20]:
            out.write("  " + failure + "\n")
    else:
        out.write("PASS\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if args.keep or soak.failures:
        log("kept %s (echod's stdout and stderr)" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if not soak.failures else 1


if __name__ == "__main__":
    sys.exit(main())
