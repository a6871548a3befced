"""A new user's first minutes: README's first command on a pristine Debian 12 root.

A minimal Debian 12 root is made with mmdebstrap (debootstrap's default set,
variant "important"; the tarball is cached under the build directory, so only
the first run downloads it), this repository is cloned into it, and README's
first command runs there under systemd-nspawn with the host's network: it must
install from the Debian mirror what it needs, build, and serve TCP echo.
The port is one that is free on the host (the network is shared), passed as
`--echo 127.0.0.1:PORT`; readiness is echod's own "listening" line.

Only the committed tree is tested (a clone of HEAD), as in CI.
"""

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import echotest

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
SOURCES = ["deb %s %s main" % (MIRROR, SUITE),
           "deb %s %s-updates main" % (MIRROR, SUITE),
           "deb http://deb.debian.org/debian-security %s-security main" % SUITE]
# Installing the build dependencies from the mirror and building take minutes.
RUN_TIMEOUT = 1200
LISTEN_RE = re.compile(r"listening echo/tcp 127\.0\.0\.1:(\d+)")


def missing_precondition():
    """One line naming what is missing and how to get it, or None."""
    if os.geteuid() != 0:
        return "the fresh-machine test needs root (mmdebstrap, systemd-nspawn)"
    for tool, package in (("mmdebstrap", "mmdebstrap"), ("systemd-nspawn", "systemd-container"),
                          ("git", "git")):
        if shutil.which(tool) is None:
            return "%s is missing: apt-get install %s (or ./scripts/deps.sh fresh)" % (tool, package)
    if not os.path.isdir(os.path.join(echotest.SOURCE_DIR, ".git")) and \
            not os.path.isfile(os.path.join(echotest.SOURCE_DIR, ".git")):
        return "%s is not a git repository: the test clones it" % echotest.SOURCE_DIR
    return None


def readme_first_command():
    """README's first command (the first line of its first sh block), without its comment."""
    with open(os.path.join(echotest.SOURCE_DIR, "README.md")) as f:
        text = f.read()
    block = text.split("```sh\n", 1)[1]
    return block.splitlines()[0].split("#", 1)[0].strip()


def run_checked(argv, what, timeout):
    """Run a helper command; on failure raise with its stderr and stdout."""
    res = subprocess.run(argv, capture_output=True, timeout=timeout)
    if res.returncode != 0:
        raise AssertionError("%s failed (exit %d): %s\nstderr:\n%s\nstdout (end):\n%s" % (
            what, res.returncode, " ".join(shlex.quote(a) for a in argv),
            res.stderr.decode(errors="replace")[-4000:], res.stdout.decode(errors="replace")[-2000:]))
    return res


def base_tarball(cache_dir):
    """The cached minimal root, made on first use (atomically: no half tarball is ever cached)."""
    tarball = os.path.join(cache_dir, "%s-important.tar" % SUITE)
    if os.path.exists(tarball):
        print("using the cached root %s" % tarball, flush=True)
        return tarball
    os.makedirs(cache_dir, exist_ok=True)
    partial = tarball + ".partial"
    start = time.monotonic()
    run_checked(["mmdebstrap", "--quiet", "--variant=important", "--format=tar", "--components=main", SUITE,
                 partial] + SOURCES, "mmdebstrap", timeout=RUN_TIMEOUT)
    os.rename(partial, tarball)
    print("made %s in %.0f s" % (tarball, time.monotonic() - start), flush=True)
    return tarball


def process_name(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def descendants(root):
    """PIDs of every process below root (by parent PID, read from /proc)."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def no_mounts_below(path):
    with open("/proc/self/mountinfo") as f:
        return not any(line.split()[4].startswith(path + "/") or line.split()[4] == path
                       for line in f)


class FreshMachine(unittest.TestCase):
    def setUp(self):
        self.cache = os.path.join(echotest.BUILD_DIR, "fresh")
        self.tarball = base_tarball(self.cache)
        self.work = tempfile.mkdtemp(prefix="root-", dir=self.cache)
        self.addCleanup(self.remove_work)
        self.root = os.path.join(self.work, "root")
        os.mkdir(self.root)
        start = time.monotonic()
        run_checked(["tar", "-C", self.root, "-xf", self.tarball], "unpacking the root", 300)
        run_checked(["git", "clone", "--quiet", "--no-hardlinks", echotest.SOURCE_DIR,
                     os.path.join(self.root, "root", "echod")], "git clone", 300)
        # Downloaded .debs are kept between runs (apt checks them against the
        # mirror's signed lists); everything else starts pristine.
        self.archives = os.path.join(self.cache, "apt-archives")
        os.makedirs(os.path.join(self.archives, "partial"), exist_ok=True)
        print("unpacked and cloned in %.1f s" % (time.monotonic() - start), flush=True)

    def remove_work(self):
        # nspawn mounts in its own namespace; refuse to delete through a mount all the same.
        if no_mounts_below(self.work):
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            print("left %s in place: something is mounted below it" % self.work)

    def test_readme_first_command_serves_echo_on_a_new_debian_12(self):
        port = echotest.free_port()
        command = readme_first_command()
        self.assertEqual(command, "./scripts/run", "README no longer starts with ./scripts/run")
        argv = ["systemd-nspawn", "-q", "-D", self.root, "--register=no", "--keep-unit",
                "--as-pid2", "--resolv-conf=copy-host", "--kill-signal=SIGTERM",
                "--bind=%s:/var/cache/apt/archives" % self.archives,
                "--chdir=/root/echod", "-E", "DEBIAN_FRONTEND=noninteractive",
                command, "--echo", "127.0.0.1:%d" % port]
        print("running:", " ".join(shlex.quote(a) for a in argv), flush=True)
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.addCleanup(self.stop, proc)
        output = []
        found = threading.Event()
        got = {}

        def reader():
            for raw in proc.stdout:
                line = raw.decode(errors="replace")
                output.append(line)
                match = LISTEN_RE.search(line)
                if match and not found.is_set():
                    got["port"] = int(match.group(1))
                    found.set()
            found.set()  # Output ended: the run is over, listening or not.

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        found.wait(RUN_TIMEOUT)
        self.assertIn("port", got, "echod never said it was listening; the run said:\n"
                      + "".join(output)[-6000:])
        print("listening on 127.0.0.1:%d after %.0f s" % (got["port"], time.monotonic() - start),
              flush=True)
        # Asked for a port free on the host; echod takes the next one if it
        # was taken meanwhile, and says which.
        with socket.create_connection(("127.0.0.1", got["port"]), timeout=10) as sock:
            message = b"hello from a fresh Debian 12\n"
            sock.sendall(message)
            sock.settimeout(10)
            self.assertEqual(echotest.recv_exactly(sock, len(message)), message)
        # README: Ctrl-C stops it. SIGINT to echod (what Ctrl-C sends), found
        # among nspawn's descendants only: other echods on this host are not ours.
        echods = [pid for pid in descendants(proc.pid) if process_name(pid) == "echod"]
        self.assertEqual(len(echods), 1, "echod processes under nspawn: %r" % echods)
        os.kill(echods[0], signal.SIGINT)
        self.assertEqual(proc.wait(60), 0, "".join(output)[-3000:])

    def stop(self, proc):
        """After a failure: end the container. Killing nspawn alone would leave
        its processes running (they are in their own session), so they go too."""
        start = time.monotonic()
        if proc.poll() is None:
            inside = descendants(proc.pid)
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                print("nspawn did not stop on SIGTERM in 30 s: killed", flush=True)
                for pid in [proc.pid] + inside:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                proc.wait(30)
        proc.stdout.close()
        print("stopped in %.1f s" % (time.monotonic() - start), flush=True)


if __name__ == "__main__":
    echotest.require(missing_precondition())
    echotest.main()
