"""A new user's first minutes: README's two commands on a pristine Debian 12 root.

A minimal Debian 12 root is made with mmdebstrap (debootstrap's default set,
variant "important"; the tarball is cached under the build directory, so only
the first run downloads it), given a machine id, and this repository is cloned
into its /root/echod, where a root user clones (/root is mode 700). Each test
unpacks a root of its own and runs one of README's commands there under
systemd-nspawn with the host's network; it must install from the Debian
mirror what it needs, by itself.

- ReadmeRun (fresh.readme_run): `./scripts/run` builds and serves TCP echo.
  The port is one that is free on the host (the network is shared), passed
  as `--echo 127.0.0.1:PORT`; readiness is echod's own "listening" line.
- ReadmeTest (fresh.readme_test): `./scripts/test`, the whole suite, exits 0
  with every stage ok. It runs with CAP_SYS_ADMIN (nspawn's default) and
  CAP_NET_ADMIN, as its own containers and network namespaces need, and
  ECHOD_SKIP_FRESH=1, so that it does not make a fresh machine of its own.

Only the committed tree is tested (a clone of HEAD), as in CI.
"""

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import container
import echotest

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
SOURCES = ["deb %s %s main" % (MIRROR, SUITE),
           "deb %s %s-updates main" % (MIRROR, SUITE),
           "deb http://deb.debian.org/debian-security %s-security main" % SUITE]
# Installing the build dependencies from the mirror and building take minutes.
RUN_TIMEOUT = 1200
# The whole suite inside: about 11 minutes here, every package from the mirror.
SUITE_TIMEOUT = 2400
# The stages of scripts/test that must say ok inside, and the one it leaves out.
SUITE_STAGES = ("dependencies", "build (-Werror)", "ctest (all but fresh)", "build (ASan+UBSan)",
                "ctest (ASan+UBSan)")
FRESH_STAGE = "ctest fresh (new Debian 12)"
LISTEN_RE = re.compile(r"listening echo/tcp 127\.0\.0\.1:(\d+)")


def missing_precondition():
    """One line naming what is missing and how to get it, or None."""
    if os.geteuid() != 0:
        return "the fresh-machine test needs root (mmdebstrap, systemd-nspawn)"
    for tool, package in (("mmdebstrap", "mmdebstrap"), ("systemd-nspawn", "systemd-container"),
                          ("git", "git")):
        if shutil.which(tool) is None:
            return "%s is missing: apt-get install %s (or ./scripts/deps.sh fresh)" % (tool, package)
    # nspawn cannot hand the suite inside what it does not have itself.
    for bit, name in ((echotest.CAP_SYS_ADMIN, "CAP_SYS_ADMIN"),
                      (echotest.CAP_NET_ADMIN, "CAP_NET_ADMIN")):
        if not echotest.has_capability(bit):
            return ("%s is missing (systemd-nspawn, and the suite's containers and network "
                    "namespaces inside): run as root on the host or in a privileged container"
                    % name)
    if not os.path.isdir(os.path.join(echotest.SOURCE_DIR, ".git")) and \
            not os.path.isfile(os.path.join(echotest.SOURCE_DIR, ".git")):
        return "%s is not a git repository: the test clones it" % echotest.SOURCE_DIR
    return None


def readme_commands():
    """README's commands: the lines of its first sh block, without their comments."""
    with open(os.path.join(echotest.SOURCE_DIR, "README.md")) as f:
        text = f.read()
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def summary_stages(output):
    """{stage name: result} from the summary scripts/test prints last."""
    if "\n=== summary\n" not in output:
        return {}
    stages = {}
    for line in output.rsplit("\n=== summary\n", 1)[1].splitlines():
        if line.startswith("all stages passed") or line.endswith("stage(s) failed"):
            continue
        # printf '%-28s %-16s %5ss': the name, the result, the seconds.
        stages[line[:28].strip()] = re.sub(r"\s+\d+s$", "", line[29:]).strip()
    return stages


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


class FreshRoot(unittest.TestCase):
    """A pristine root of its own for each test, with the clone in /root/echod."""

    def setUp(self):
        self.cache = os.path.join(echotest.BUILD_DIR, "fresh")
        self.tarball = base_tarball(self.cache)
        self.work = tempfile.mkdtemp(prefix="root-", dir=self.cache)
        self.addCleanup(self.remove_work)
        self.root = os.path.join(self.work, "root")
        os.mkdir(self.root)
        start = time.monotonic()
        run_checked(["tar", "-C", self.root, "-xf", self.tarball], "unpacking the root", 300)
        # mmdebstrap leaves /etc/machine-id empty, for the first boot to fill;
        # an installed machine has one (and the suite's containers need it).
        with open(os.path.join(self.root, "etc", "machine-id"), "w") as f:
            f.write(uuid.uuid4().hex + "\n")
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

    def readme_command(self, index, expected):
        commands = readme_commands()
        self.assertGreater(len(commands), index, "README's first sh block: %r" % commands)
        self.assertEqual(commands[index], expected,
                         "README's command %d is no longer %s" % (index + 1, expected))
        return commands[index]

    def nspawn(self, options, command):
        """Start command as root in /root/echod of the new root, output piped."""
        argv = ["systemd-nspawn", "-q", "-D", self.root, "--register=no", "--keep-unit",
                "--as-pid2", "--resolv-conf=copy-host", "--kill-signal=SIGTERM",
                "--bind=%s:/var/cache/apt/archives" % self.archives,
                "--chdir=/root/echod", "-E", "DEBIAN_FRONTEND=noninteractive"] + options + command
        print("running:", " ".join(shlex.quote(a) for a in argv), flush=True)
        # Its own session keeps a Ctrl-C from reaching it before our cleanup;
        # the parent-death signal ends it if this process is killed (a CTest timeout).
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=container.die_with_parent)
        self.addCleanup(self.stop, proc)
        return proc

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


class ReadmeRun(FreshRoot):
    def test_readme_first_command_serves_echo_on_a_new_debian_12(self):
        port = echotest.free_port()
        command = self.readme_command(0, "./scripts/run")
        start = time.monotonic()
        proc = self.nspawn([], [command, "--echo", "127.0.0.1:%d" % port])
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


class ReadmeTest(FreshRoot):
    def test_readme_second_command_passes_every_stage_on_a_new_debian_12(self):
        command = self.readme_command(1, "./scripts/test")
        # The suite's containers inside take the same host-wide lock as those
        # on the host: they share its network, so only one may own port 7.
        os.makedirs(os.path.dirname(container.LOCK_PATH), exist_ok=True)
        open(container.LOCK_PATH, "a").close()
        start = time.monotonic()
        # CAP_SYS_ADMIN is in nspawn's default set; CAP_NET_ADMIN is added for
        # the suite's network namespaces (echoscan.netns). Nothing else is
        # needed for its own nspawn containers inside this one.
        proc = self.nspawn(["--capability=CAP_NET_ADMIN", "--bind=%s" % container.LOCK_PATH,
                            "-E", "ECHOD_SKIP_FRESH=1"], [command])
        output = []

        def reader():
            # Shown as it comes (CTest keeps it for --output-on-failure).
            for raw in proc.stdout:
                line = raw.decode(errors="replace")
                output.append(line)
                sys.stdout.write(line)
                sys.stdout.flush()

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        try:
            status = proc.wait(SUITE_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("./scripts/test did not end within %d s" % SUITE_TIMEOUT)
        thread.join(30)
        # nspawn's console is a terminal: its lines end in CR LF.
        text = "".join(output).replace("\r\n", "\n")
        print("./scripts/test on a new Debian 12 took %.0f s" % (time.monotonic() - start),
              flush=True)
        stages = summary_stages(text)
        for name in SUITE_STAGES:
            self.assertEqual(stages.get(name), "ok", "stage %r: %r" % (name, stages))
        self.assertEqual(stages.get(FRESH_STAGE), "not run (ECHOD_SKIP_FRESH=1)", stages)
        self.assertEqual(status, 0, stages)
        self.assertIn("all stages passed", text)


if __name__ == "__main__":
    echotest.require(missing_precondition())
    echotest.main()
