"""Shared helpers of the chat benchmarks (bench/chat-fanout.py,
bench/chat-login-burst.py): start echod with its echo and chat sockets, speak
the chat login dialogue of docs/chat.md, and keep a set of registered bench
users with their session tokens between runs.

Registering a user costs one argon2id hash (about 55 ms of a core), so the
users are created once, in a state directory under the build tree
(build/bench/chat-state/ by default), and later runs log in with the tokens
(a token login answers TOKEN with the same token, so it stays valid).
"""

import concurrent.futures
import json
import os
import re
import select
import shutil
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TICKS = os.sysconf("SC_CLK_TCK")
LISTEN_RE = re.compile(rb"listening (echo|chat)/tcp (\S+):(\d+)")


def password_of(name):
    return "bench-password-" + name


def cpu_seconds(pid):
    """utime + stime of every thread of a process, in seconds (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        # The command name may hold spaces; the fields after it are fixed.
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line.
    return (int(fields[11]) + int(fields[12])) / TICKS


def pin(pid, cpu):
    """Move every thread of a running process to one CPU (taskset -a -p)."""
    if cpu is not None and shutil.which("taskset"):
        subprocess.run(["taskset", "-a", "-p", "-c", str(cpu), str(pid)], check=True,
                       stdout=subprocess.DEVNULL)


def pinned(cpu, argv):
    if cpu is None or not shutil.which("taskset"):
        return argv
    return ["taskset", "-c", str(cpu)] + argv


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Echod:
    """echod on 127.0.0.1 with an echo and a chat socket, on ports it picks."""

    def __init__(self, build, state_dir, extra=()):
        argv = [os.path.join(build, "programs", "echod"), "--config", "/dev/null",
                "--echo", "127.0.0.1:0", "--chat", "127.0.0.1:0", "--state-dir", state_dir,
                "--chat-rate", "100000", "--chat-burst", "100000",
                "--chat-max-users", "5000",
                # Every bench login comes from 127.0.0.1.
                "--chat-max-pending-per-address", "100000"] + list(extra)
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        self.name = "echod"
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        self.pid = self.proc.pid
        self.ports = self._wait_listening()
        self.echo_port, self.chat_port = self.ports["echo"], self.ports["chat"]

    def _wait_listening(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        seen = b""
        fd = self.proc.stdout.fileno()
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                continue
            data = os.read(fd, 4096)
            if not data:
                break
            seen += data
            ports = {m.group(1).decode(): int(m.group(3)) for m in LISTEN_RE.finditer(seen)}
            if len(ports) == 2:
                return ports
        self.stop()
        raise RuntimeError("echod did not say where it listens (output %r)" % seen)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class LoginError(Exception):
    pass


class Lines:
    """A blocking line reader over a socket, with a deadline per read."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def readline(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LoginError("timed out waiting for a line (have %r)" % self.buffer[:200])
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise LoginError("connection closed (have %r)" % self.buffer[:200])
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")


def chat_login(port, name, password=None, token=None, timeout=30.0, retry_busy=True):
    """Log in (or register) over the chat protocol; returns (socket, token).

    Answers NAME? with the name (or /token), HELLO <other> with /name, PASSWORD?
    with the password (or /token), and retries after ERR busy (with
    retry_busy=False it raises LoginError("busy ...") instead). The socket is
    left open and blocking, positioned after the OK line (HIST lines follow)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lines = Lines(sock)
    greeted = None
    got_token = None
    try:
        while True:
            line = lines.readline(timeout)
            kind = line.split(" ", 1)[0]
            if kind == "NAME?":
                answer = "/token " + token if token else name
            elif kind == "HELLO":
                greeted = line.split(" ", 1)[1]
                continue
            elif kind == "PASSWORD?":
                if token:
                    answer = "/token " + token
                elif greeted is not None and greeted.lower() != name.lower():
                    answer = "/name " + name
                    greeted = name
                else:
                    answer = password
            elif kind == "TOKEN":
                got_token = line.split(" ", 1)[1]
                continue
            elif kind == "OK":
                if not got_token:
                    raise LoginError("OK without TOKEN for %s" % name)
                return sock, got_token
            elif kind == "ERR" and "busy" in line and retry_busy:
                continue  # the prompt comes again
            elif kind == "ERR" and line.startswith("ERR unavailable") and retry_busy:
                # A node on Redis that is not connected yet: the prompt comes again.
                time.sleep(0.1)
                continue
            elif kind in ("ERR", "BYE"):
                raise LoginError("%s %s: %s" % ("busy" if "busy" in line else "refused",
                                                name, line))
            else:
                continue
            sock.sendall(answer.encode() + b"\n")
    except BaseException:
        sock.close()
        raise


def quit_chat(sock):
    try:
        sock.sendall(b"/quit\n")
    except OSError:
        pass
    sock.close()


class Users:
    """Registered bench users and their tokens, kept in STATE_DIR/users.json
    beside echod's chat.db."""

    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, "users.json")
        os.makedirs(state_dir, exist_ok=True)
        try:
            with open(self.path) as f:
                self.tokens = json.load(f)
        except (OSError, ValueError):
            self.tokens = {}

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.tokens, f)
        os.replace(tmp, self.path)

    def ensure(self, port, names, log=None, parallel=8):
        """Register whichever of NAMES is not known yet (password logins of a
        new name, several at once to keep the hashing workers busy)."""
        missing = [n for n in names if n not in self.tokens]
        if not missing:
            return
        started = time.monotonic()
        if log:
            log("registering %d chat users (argon2id, about 55 ms each on the workers)..."
                % len(missing))

        def register(name):
            sock, token = chat_login(port, name, password_of(name), timeout=120)
            quit_chat(sock)
            return name, token

        with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
            for done, (name, token) in enumerate(pool.map(register, missing), 1):
                self.tokens[name] = token
                if done % 100 == 0:
                    self.save()
        self.save()
        if log:
            log("registered %d users in %.1f s" % (len(missing), time.monotonic() - started))


def drain(socks):
    """Read and drop whatever is waiting on these sockets (JOIN lines, history)."""
    for sock in socks:
        timeout = sock.gettimeout()
        # A socket with a timeout waits for data before recv, even with
        # MSG_DONTWAIT: make it non-blocking for the drain.
        sock.setblocking(False)
        try:
            while sock.recv(65536):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        finally:
            sock.settimeout(timeout)
