"""A throwaway container with a real systemd as PID 1, for end-to-end tests.

The host's own root is bind-mounted on an empty directory and booted with
systemd-nspawn --volatile=overlay: the container sees the host's files, but
every write lands in a tmpfs overlay that vanishes at power-off. It shares the
host's network, so a socket unit listening on port 7 inside is reachable on
127.0.0.1:7 from the test. One host directory is bound read-only at /pkg to
hand things (an installed tree, packages) in.

    with Container(bind="/some/dir") as ct:
        ct.check("systemctl start echo.socket")
        entries = ct.journal("echo.service")

Containers on one machine share its network, so a host-wide lock serializes
them (two cannot both own port 7). Teardown always runs: power-off, wait for
nspawn, kill it if it hangs, unmount and remove the root directory.
"""

import ctypes
import fcntl
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import echotest

LOCK_PATH = "/run/lock/echod-e2e.lock"
# What echo.socket and echo-udp.socket listen on, and echo-chat.socket.
PORT_7 = ((7, socket.SOCK_STREAM), (7, socket.SOCK_DGRAM))
PORT_7070 = ((7070, socket.SOCK_STREAM),)
WORK_PARENT = "/var/tmp"
PR_SET_PDEATHSIG = 1
_counter = itertools.count()


class ContainerError(AssertionError):
    pass


def unavailable_reason():
    """Why no container can be booted here, or None if one can."""
    if os.geteuid() != 0:
        return "end-to-end tests need root (systemd-nspawn, mount)"
    for tool in ("systemd-nspawn", "nsenter", "mount", "umount"):
        if shutil.which(tool) is None:
            return "%s is not installed (scripts/deps.sh installs it)" % tool
    if not os.path.isdir("/lib/systemd") or not os.path.exists("/lib/systemd/systemd"):
        return "systemd is not installed on the host root (apt-get install systemd)"
    if not echotest.has_capability(echotest.CAP_SYS_ADMIN):
        return ("CAP_SYS_ADMIN is missing (systemd-nspawn mounts and makes namespaces): run as "
                "root on the host or in a privileged container")
    return echotest.machine_id_problem()


def skip_unless_available():
    """Exit 1 with one line saying what is missing when no container can be booted."""
    echotest.require(unavailable_reason())


class Result:
    """What a command run inside the container did."""

    def __init__(self, argv, returncode, stdout, stderr):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self):
        return "Result(%r, rc=%d, stdout=%r, stderr=%r)" % (
            self.argv, self.returncode, self.stdout[-2000:], self.stderr[-2000:])


class Container:
    """Boot on __enter__, tear down on __exit__ (also after failures)."""

    def __init__(self, bind=None, name_prefix="echod-e2e", boot_timeout=90.0, lock=True,
                 free_ports=()):
        self.bind = os.path.abspath(bind) if bind else None
        # (port, socket type) pairs the container will listen on: checked once
        # the lock is held, since another test's container may hold them until then.
        self.free_ports = free_ports
        self.name = "%s-%d-%d" % (name_prefix, os.getpid(), next(_counter))
        self.boot_timeout = boot_timeout
        self.use_lock = lock
        self.lock_file = None
        self.work = None
        self.root = None
        self.mounted = False
        self.nspawn = None
        self.log_path = None
        self.pid = None

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        if self.use_lock:
            os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
            self.lock_file = open(LOCK_PATH, "w")
            fcntl.flock(self.lock_file, fcntl.LOCK_EX)
        # One MISSING line naming the port and its holder, and exit 1
        # (echotest.require); __enter__ releases the lock on the way out.
        echotest.require(*(port_problem(port, kind) for port, kind in self.free_ports))
        _clean_stale()
        self.work = tempfile.mkdtemp(prefix="echod-ct-%d-" % os.getpid(), dir=WORK_PARENT)
        self.root = os.path.join(self.work, "root")
        os.mkdir(self.root)
        self.log_path = os.path.join(self.work, "console.log")
        echotest.run_helper(["mount", "--bind", "/", self.root])
        self.mounted = True
        argv = ["systemd-nspawn", "-q", "-D", self.root, "--volatile=overlay",
                "--register=no", "--keep-unit", "--console=read-only", "-M", self.name]
        if self.bind:
            argv.append("--bind-ro=%s:/pkg" % self.bind)
        argv.append("-b")
        with open(self.log_path, "wb") as log:
            # Its own session keeps a Ctrl-C from reaching nspawn before our
            # teardown does; the parent-death signal powers the container off
            # if this process is killed outright (a CTest timeout).
            self.nspawn = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True,
                                           preexec_fn=die_with_parent)
        self.pid = self._find_init()
        self._wait_booted()

    def _find_init(self):
        """PID (on the host) of the container's systemd: nspawn's child."""
        deadline = time.monotonic() + self.boot_timeout
        children = "/proc/%d/task/%d/children" % (self.nspawn.pid, self.nspawn.pid)
        while time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                raise ContainerError("systemd-nspawn exited with %d:\n%s"
                                     % (self.nspawn.returncode, self.console_log()))
            try:
                with open(children) as f:
                    pids = [int(p) for p in f.read().split()]
            except OSError:
                pids = []
            for pid in pids:
                try:
                    with open("/proc/%d/comm" % pid) as f:
                        if f.read().strip() == "systemd":
                            return pid
                except OSError:
                    pass
            time.sleep(0.05)
        raise ContainerError("no systemd inside the container after %ss:\n%s"
                             % (self.boot_timeout, self.console_log()))

    def _wait_booted(self):
        """Until the boot job is done; "degraded" counts as booted."""
        deadline = time.monotonic() + self.boot_timeout
        while True:
            res = self.run("systemctl is-system-running --wait", timeout=self.boot_timeout)
            state = res.stdout.strip()
            if state in ("running", "degraded"):
                return
            # Right after PID 1 starts, the bus may not be up yet.
            if time.monotonic() > deadline:
                raise ContainerError("container did not boot: %r\n%s" % (res, self.console_log()))
            time.sleep(0.1)

    def stop(self):
        try:
            if self.nspawn is not None and self.nspawn.poll() is None:
                if self.pid is not None:
                    self.run("systemctl poweroff --no-block", timeout=15)
                try:
                    self.nspawn.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    # nspawn turns SIGTERM into an orderly shutdown of the
                    # container; SIGKILL is the last resort.
                    self.nspawn.send_signal(signal.SIGTERM)
                    try:
                        self.nspawn.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        self.nspawn.kill()
                        self.nspawn.wait()
        finally:
            if self.mounted:
                _unmount(self.root)
                self.mounted = False
            if self.work:
                _remove_work_dir(self.work)
                self.work = None
            if self.lock_file:
                self.lock_file.close()
                self.lock_file = None

    def console_log(self, tail=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-tail:]
        except (OSError, TypeError):
            return ""

    # -- running commands inside -------------------------------------------

    def run(self, cmd, timeout=60, input=None):
        """Run cmd (a shell string or an argv list) inside; returns a Result."""
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        full = ["nsenter", "-t", str(self.pid), "-a", "env", "-i",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "LANG=C.UTF-8", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0"] + argv
        try:
            proc = subprocess.run(full, input=input, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as e:
            return Result(argv, 124, _text(e.stdout), _text(e.stderr) + "\n(timed out)")
        return Result(argv, proc.returncode, proc.stdout, proc.stderr)

    def check(self, cmd, timeout=60, input=None):
        """Run cmd inside; raise unless it exits 0; returns its stdout."""
        res = self.run(cmd, timeout=timeout, input=input)
        if res.returncode != 0:
            raise ContainerError("command failed in container: %r" % res)
        return res.stdout

    def systemctl(self, *args):
        return self.run(["systemctl"] + list(args))

    def unit_property(self, unit, prop):
        return self.check(["systemctl", "show", "-P", prop, unit]).strip()

    def journal(self, unit=None, args=()):
        """Journal entries (dicts) of unit, oldest first, after a sync."""
        self.run("journalctl --sync")
        argv = ["journalctl", "--no-pager", "-o", "json"] + list(args)
        if unit:
            argv += ["-u", unit]
        out = self.check(argv)
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    def wait_journal(self, predicate, unit=None, timeout=15.0):
        """Poll the journal until an entry satisfies predicate; return it."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.journal(unit)
            for entry in entries:
                if predicate(entry):
                    return entry
            if time.monotonic() > deadline:
                raise ContainerError("no matching journal entry for %s in %ss; last entries:\n%s"
                                     % (unit, timeout, "\n".join(
                                         e.get("MESSAGE", "") if isinstance(e.get("MESSAGE"), str)
                                         else repr(e.get("MESSAGE")) for e in entries[-20:])))
            time.sleep(0.2)

    def wait_state(self, unit, states, timeout=15.0):
        """Poll ActiveState of unit until it is one of states; return it."""
        if isinstance(states, str):
            states = (states,)
        deadline = time.monotonic() + timeout
        while True:
            state = self.unit_property(unit, "ActiveState")
            if state in states:
                return state
            if time.monotonic() > deadline:
                raise ContainerError("%s is %s, not %s after %ss:\n%s" % (
                    unit, state, "/".join(states), timeout,
                    self.run(["systemctl", "status", "--no-pager", "-l", unit]).stdout))
            time.sleep(0.1)

    def exists(self, path):
        return self.run(["test", "-e", path]).returncode == 0


def die_with_parent():
    """In the child before exec: get SIGTERM when the test process dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _is_mountpoint(path):
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == path for line in f)
    except OSError:
        return os.path.ismount(path)


def _unmount(root):
    if subprocess.run(["umount", root], stderr=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["umount", "-l", root], stderr=subprocess.DEVNULL)


def _remove_work_dir(work):
    """Remove a work directory without ever descending into its root.

    root is (or was) a bind mount of the host's /: never rmtree it. If it is
    still mounted, leave everything in place rather than risk the host.
    """
    root = os.path.join(work, "root")
    if os.path.isdir(root):
        if _is_mountpoint(root):
            return
        try:
            os.rmdir(root)
        except OSError:
            return
    for name in ("console.log",):
        try:
            os.unlink(os.path.join(work, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(work)
    except OSError:
        pass


def _clean_stale():
    """Unmount and remove work directories of test processes that died."""
    try:
        names = os.listdir(WORK_PARENT)
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if not name.startswith("echod-ct-") or len(parts) < 4 or not parts[2].isdigit():
            continue
        if os.path.exists("/proc/%s" % parts[2]):
            continue
        work = os.path.join(WORK_PARENT, name)
        root = os.path.join(work, "root")
        if _is_mountpoint(root):
            _unmount(root)
        _remove_work_dir(work)


def _text(data):
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def wait_port(host, port, proto=socket.SOCK_STREAM, timeout=15.0):
    """Until a TCP connect to host:port succeeds (a socket unit is listening)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def port_in_use(port, proto=socket.SOCK_STREAM, host="127.0.0.1"):
    with socket.socket(socket.AF_INET, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def port_problem(port, kind=socket.SOCK_STREAM):
    """None when 127.0.0.1:port is free, else a sentence naming the port and what holds it."""
    if not port_in_use(port, kind):
        return None
    return ("%s port %d is in use on this machine outside the e2e tests (a container's socket "
            "needs it; they share the host's network): %s"
            % ("UDP" if kind == socket.SOCK_DGRAM else "TCP", port, port_holder(port, kind)))


def port_holder(port, kind=socket.SOCK_STREAM):
    """Who listens on port, as ss -ltnp (or -lunp) tells: 'held by echod (pid 12)'."""
    argv = ["ss", "-Hlunp" if kind == socket.SOCK_DGRAM else "-Hltnp", "sport = :%d" % port]
    command = " ".join(argv[:2]) + " 'sport = :%d'" % port
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "%s could not say by whom (%s)" % (command, e)
    holders = sorted(set("%s (pid %s)" % m for m in re.findall(r'\("([^"]*)",pid=(\d+)', res.stdout)))
    if holders:
        return "held by " + ", ".join(holders) + " (%s)" % command
    if res.stdout.strip():
        return ("held by a process in another PID namespace (a container sharing the network?): "
                "%s shows %s" % (command, " ".join(res.stdout.split())))
    return "%s shows no listener: a connected socket or one in TIME_WAIT holds it" % command


class ContainerTestCase(unittest.TestCase):
    """Shares one booted container across a test class (boot costs seconds)."""

    bind = None

    @classmethod
    def setUpClass(cls):
        cls.ct = Container(bind=cls.bind, free_ports=PORT_7)
        cls.ct.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.ct.__exit__(None, None, None)


def sh_quote(*words):
    return " ".join(shlex.quote(w) for w in words)
