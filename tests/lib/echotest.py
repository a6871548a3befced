"""Shared helpers for echod's integration tests.

They run the real binaries from the build tree as separate processes and talk
to them over real sockets. Readiness comes from sd_notify (a NOTIFY_SOCKET of
our own), never from sleeping.
"""

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BUILD_DIR = os.environ.get("ECHOD_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE_DIR = os.environ.get("ECHOD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))

LISTEN_RE = re.compile(r"listening (\w+)/(tcp|udp) (\S+)")


def binary(name):
    """Path of a program built in this tree."""
    path = os.path.join(BUILD_DIR, "programs", name)
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(path)
    return path


class ProgramsForAnotherUser:
    """Copies of built programs that a process running as another user can run.

    A test that drops privileges (to nobody) cannot run the programs where they
    were built when the checkout sits in a directory only its owner may enter,
    as a root user's clone in /root (mode 700) does. The named programs are
    copied into a directory of their own under the system's temporary
    directory, mode 755, and removed by close(); no existing file or directory
    changes its permissions.

        programs = ProgramsForAnotherUser("echod", "echoctl")
        programs.path("echoctl")   # runnable by nobody
        programs.close()
    """

    def __init__(self, *names):
        parent = tempfile.gettempdir()
        for directory in _ancestors(parent):
            if not os.stat(directory).st_mode & 0o001:
                require("%s is not searchable by other users, so a test running as nobody cannot "
                        "reach its programs there: set TMPDIR to a directory every user can enter"
                        % directory)
        self.dir = tempfile.mkdtemp(prefix="echod-programs-", dir=parent)
        os.chmod(self.dir, 0o755)
        self.paths = {}
        for name in names:
            path = os.path.join(self.dir, name)
            shutil.copyfile(binary(name), path)
            os.chmod(path, 0o755)
            self.paths[name] = path

    def path(self, name):
        return self.paths[name]

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def _ancestors(path):
    """path and every directory above it, up to /."""
    path = os.path.realpath(path)
    found = [path]
    while path != "/":
        path = os.path.dirname(path)
        found.append(path)
    return found


def split_hostport(text):
    """'127.0.0.1:7007' or '[::1]:7007' -> (host, port)."""
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


class NotifySocket:
    """A unix datagram socket standing in for systemd's notify socket."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="echod-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []

    def mark(self):
        """A position: wait_for(..., since=mark) only looks at later messages."""
        return len(self.messages)

    def wait_for(self, predicate, timeout=15.0, since=0):
        """Collect messages until one satisfies predicate; return its fields."""
        deadline = time.monotonic() + timeout
        for fields in self.messages[since:]:
            if predicate(fields):
                return fields
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching sd_notify message; got %r" % self.messages)
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                continue
            data = self.sock.recv(65536).decode()
            fields = dict(line.split("=", 1) for line in data.split("\n") if "=" in line)
            self.messages.append(fields)
            if predicate(fields):
                return fields

    def wait_key(self, key, value=None, timeout=15.0, since=0):
        return self.wait_for(lambda f: key in f and (value is None or f[key] == value), timeout, since)

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
            os.rmdir(self.dir)
        except OSError:
            pass


class DaemonProcess:
    """A process under test: a notify socket, a scratch dir, output in files."""

    def __init__(self):
        self.notify = NotifySocket()
        self.tmp = tempfile.mkdtemp(prefix="echod-test-")
        # Files, not pipes: a pipe nobody drains would block the daemon's logging.
        self.stdout_path = os.path.join(self.tmp, "stdout")
        self.stderr_path = os.path.join(self.tmp, "stderr")
        self.proc = None

    def start(self, argv, env=None, preexec_fn=None, close_fds=True):
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=env, cwd=self.tmp, preexec_fn=preexec_fn,
                                         close_fds=close_fds)

    def stdout(self):
        with open(self.stdout_path, errors="replace") as f:
            return f.read()

    def stderr(self):
        """Everything the process logged so far."""
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    @property
    def pid(self):
        return self.proc.pid

    def signal(self, sig):
        self.proc.send_signal(sig)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.notify.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Echod(DaemonProcess):
    """A running echod in standalone mode."""

    def __init__(self, args=(), env=None, wait_ready=True, config=None, preexec_fn=None, argv0=None,
                 raw_args=False):
        super().__init__()
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NOTIFY_SOCKET": self.notify.path}
        for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if key in os.environ:
                full_env[key] = os.environ[key]
        if env:
            full_env.update(env)
        argv = [argv0 or binary("echod")]
        if raw_args:
            pass
        elif config is not None:
            path = os.path.join(self.tmp, "echod.conf")
            with open(path, "w") as f:
                f.write(config)
            self.config_path = path
            argv += ["--config", path]
        elif "--config" not in args:
            # Never read the machine's /etc/echod/echod.conf in tests.
            argv += ["--config", "/dev/null"]
        if not raw_args and config is None and "--control" not in args and \
                "XDG_RUNTIME_DIR" not in full_env:
            # Nor take the machine's control socket: as root the default is
            # /run/echod/control, where a system echod may answer, and a test
            # echod that is killed would leave its file behind.
            argv += ["--control", "none"]
        argv += list(args)
        self.listening = []
        self.start(argv, env=full_env, preexec_fn=preexec_fn)
        if wait_ready:
            self.wait_ready()

    def wait_ready(self, timeout=15.0):
        try:
            self.notify.wait_key("READY", "1", timeout)
        except TimeoutError:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("echod did not become ready: rc=%s stdout=%r stderr=%r"
                                 % (self.proc.returncode, self.stdout(), self.stderr()))
        self._read_listening()
        return self

    def _read_listening(self):
        self.listening = []
        for line in self.stdout().splitlines():
            m = LISTEN_RE.search(line)
            if m:
                self.listening.append((m.group(1), m.group(2), split_hostport(m.group(3))))

    def address(self, proto="tcp", service="echo"):
        for svc, p, addr in self.listening:
            if svc == service and p == proto:
                return addr
        raise AssertionError("echod is not listening on %s/%s: %r" % (service, proto, self.listening))

    def stop(self, timeout=20.0):
        """SIGTERM, then wait; returns (exit status, stderr text)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("echod did not exit within %ss of SIGTERM" % timeout)
        return self.proc.returncode, self.stderr()

    def cpu_seconds(self):
        """User plus system CPU time the daemon has used."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

def connect(addr, timeout=10.0):
    host, port = addr
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def connection_refused(addr):
    """True if nothing listens at addr (the connection is refused)."""
    try:
        with connect(addr, timeout=3):
            return False
    except ConnectionRefusedError:
        return True


def recv_exactly(sock, n):
    chunks = []
    got = 0
    while got < n:
        data = sock.recv(min(1 << 20, n - got))
        if not data:
            break
        chunks.append(data)
        got += len(data)
    return b"".join(chunks)


def free_port(proto=socket.SOCK_STREAM, host="127.0.0.1"):
    """A port that is free right now (for tests that need a fixed number)."""
    with socket.socket(socket.AF_INET, proto) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class HelperFailed(AssertionError):
    """A helper command (ip, nft, mount, cmake, ...) failed: its stderr is in the message."""


def run_helper(argv, timeout=60, **kwargs):
    """Run a helper command; on failure raise HelperFailed with the command, status and stderr."""
    kwargs.setdefault("capture_output", True)
    res = subprocess.run(argv, timeout=timeout, **kwargs)
    if res.returncode != 0:
        err = res.stderr.decode(errors="replace") if isinstance(res.stderr, bytes) else res.stderr
        raise HelperFailed("%s exited with %d: %s" % (
            " ".join(str(a) for a in argv), res.returncode, (err or "").strip()[-4000:]))
    return res


# CAP_NET_ADMIN is bit 12, CAP_SYS_ADMIN bit 21 of the capability sets (linux/capability.h).
CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21


def has_capability(bit):
    """True when this process has the capability in its effective set."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> bit & 1)
    return False


def machine_id_problem():
    """Why /etc/machine-id cannot serve a booted container, or None."""
    try:
        with open("/etc/machine-id") as f:
            text = f.read().strip()
    except OSError as e:
        return "/etc/machine-id cannot be read (%s): run systemd-machine-id-setup" % e.strerror
    if not re.fullmatch(r"[0-9a-f]{32}", text):
        return ("/etc/machine-id is empty or not an id (systemd then fails with 'No medium "
                "found'): run systemd-machine-id-setup")
    return None


def require(*problems):
    """Before any test: exit 1 with one line for the first precondition that is missing.

    Each argument is None (met) or a sentence saying what is missing and how
    to provide it. A test that cannot run fails: it never passes silently."""
    for problem in problems:
        if problem:
            print("MISSING: " + problem, file=sys.stderr, flush=True)
            sys.exit(1)


def need_root(what):
    return None if os.geteuid() == 0 else "%s needs root" % what


def need_tools(*tools, hint="./scripts/deps.sh test installs it"):
    for tool in tools:
        if shutil.which(tool) is None:
            return "%s is not installed (%s)" % (tool, hint)
    return None


def main():
    unittest.main(verbosity=2)
