"""echod under a real systemd (PID 1 in a container), installed from the build.

The build is installed with "DESTDIR=stage cmake --install", the stage is
bound into the container at /pkg and copied into its root, and then the test
drives it as an admin would: systemctl start/reload/stop, journalctl, TCP and
UDP echo on port 7 from the host (the container shares its network).
The tests run in order against one container (booting costs seconds).
"""

import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import container
import echotest

MSG_CONNECT = "e9f608983f504fdc879109589f12a2f3"
MSG_DISCONNECT = "3e59bf4dc8ee4523894cd572ad9665fc"
MSG_RELOAD = "96380c7d7f1140ec9c4eb40d5c919714"
MSG_STOP = "a4f130729f7645f7bcb83cc03849b841"
UNITS = ("echo.socket", "echo-udp.socket", "echo-chat.socket", "echo-control.socket",
         "echo.service")
LOOPBACK = ("127.0.0.1", "::ffff:127.0.0.1")
# Issue 2 asks for a "systemd-analyze security" exposure of 2.0 or lower.
MAX_EXPOSURE = float(os.environ.get("ECHOD_MAX_EXPOSURE", "2.0"))


# How README.md tells an admin to add UDP echo to a running echod.
ENABLE_UDP = "systemctl enable echo-udp.socket && systemctl restart echo-udp.socket echo.service"


def readme():
    with open(os.path.join(echotest.SOURCE_DIR, "README.md")) as f:
        return f.read()


class ChatLines:
    """A line-based chat client from a loopback source address of its own."""

    def __init__(self, source, port=7070, timeout=30.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")

    def line(self):
        data = self.file.readline()
        if not data.endswith(b"\n"):
            raise AssertionError("the chat closed; last %r" % data)
        return data.decode().rstrip("\n")

    def until(self, pattern):
        """Lines up to and including the first that matches pattern."""
        lines = []
        while not lines or not re.match(pattern, lines[-1]):
            lines.append(self.line())
        return lines

    def send(self, text):
        self.sock.sendall(text.encode() + b"\n")

    def close(self):
        self.file.close()
        self.sock.close()


def install_stage(build_dir, stage):
    """cmake --install the build into stage; returns the unit directory in it."""
    env = dict(os.environ, DESTDIR=stage)
    echotest.run_helper(["cmake", "--install", build_dir], env=env, timeout=120)
    for root, _, files in os.walk(stage):
        if "echo.service" in files:
            return "/" + os.path.relpath(root, stage)
    raise AssertionError("cmake --install put no echo.service into %s" % stage)


def tcp_echo(payload, timeout=10.0):
    """Send payload to 127.0.0.1:7, half-close, return (echo, local port)."""
    with socket.create_connection(("127.0.0.1", 7), timeout=timeout) as s:
        port = s.getsockname()[1]
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        data = echotest.recv_exactly(s, len(payload) + 1)
    return data, port


def udp_echo(payload, attempts=5, timeout=3.0):
    """Send a datagram from an ephemeral port to 127.0.0.1:7; return the reply."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        assert s.getsockname()[1] >= 1024
        s.settimeout(timeout)
        for _ in range(attempts):
            s.sendto(payload, ("127.0.0.1", 7))
            try:
                data, peer = s.recvfrom(65536)
            except socket.timeout:
                continue
            return data, peer
    raise AssertionError("no UDP echo from 127.0.0.1:7 after %d datagrams" % attempts)


class SystemdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stage = tempfile.mkdtemp(prefix="echod-stage-")
        cls.unit_dir = install_stage(echotest.BUILD_DIR, cls.stage)
        cls.ct = container.Container(bind=cls.stage,
                                     free_ports=container.PORT_7 + container.PORT_7070)
        try:
            cls.ct.__enter__()
        except BaseException:
            shutil.rmtree(cls.stage, ignore_errors=True)
            raise
        try:
            # --keep-directory-symlink: /lib is a symlink on merged-/usr systems.
            cls.ct.check("tar -C /pkg -cf - . | tar -C / -xf - --keep-directory-symlink "
                         "--no-overwrite-dir")
            cls.ct.check("systemctl daemon-reload")
        except BaseException:
            cls.ct.__exit__(None, None, None)
            raise

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "ct"):
            cls.ct.__exit__(None, None, None)
        shutil.rmtree(cls.stage, ignore_errors=True)

    def status(self, unit="echo.service"):
        return self.ct.run(["systemctl", "status", "--no-pager", "-l", "-n", "30", unit]).stdout

    def start_socket(self, unit="echo.socket"):
        # A failure in an earlier test must not hide behind a start limit.
        self.ct.run(["systemctl", "reset-failed"] + list(UNITS))
        res = self.ct.systemctl("start", unit)
        self.assertEqual(res.returncode, 0, res)
        self.ct.wait_state(unit, "active")

    # 1. The units are valid and nothing listens before an admin says so.

    def test_01_units_pass_systemd_analyze_verify(self):
        paths = [os.path.join(self.unit_dir, u) for u in UNITS]
        res = self.ct.run(["systemd-analyze", "verify"] + paths)
        self.assertEqual(res.returncode, 0, res)
        complaints = [line for line in (res.stdout + res.stderr).splitlines()
                      if re.search(r"echo(-udp|-control|-chat)?\.(socket|service)|echod", line)]
        self.assertEqual(complaints, [], res)

    def test_02_nothing_listens_until_started(self):
        self.assertEqual(self.ct.unit_property("echo.socket", "ActiveState"), "inactive")
        self.assertTrue(echotest.connection_refused(("127.0.0.1", 7)))

    # 2. TCP echo through echo.socket, and the journal records it.

    def test_03_tcp_echo_through_echo_socket(self):
        self.start_socket()
        payload = b"hello, echod\n" + bytes(random.getrandbits(8) for _ in range(100000))
        data, port = tcp_echo(payload)
        self.assertEqual(len(data), len(payload))
        self.assertEqual(data, payload)
        self.assertEqual(self.ct.wait_state("echo.service", "active"), "active", self.status())
        self.assertEqual(self.ct.run("systemctl is-active echo.service").stdout.strip(), "active")
        type(self).tcp_port = port
        type(self).tcp_bytes = len(payload)

    def test_04_journal_has_connect_and_disconnect_with_remote_addr(self):
        port = str(getattr(self, "tcp_port", 0))
        size = str(getattr(self, "tcp_bytes", 0))
        connect = self.ct.wait_journal(
            lambda e: e.get("MESSAGE_ID") == MSG_CONNECT and e.get("REMOTE_PORT") == port,
            unit="echo.service")
        self.assertIn(connect.get("REMOTE_ADDR"), LOOPBACK, connect)
        self.assertEqual(connect.get("SERVICE"), "echo", connect)
        # The caller's location, relative to the source tree; never the logging wrapper.
        self.assertEqual(connect.get("CODE_FILE"), "src/daemon/echo_tcp.c", connect)
        self.assertNotIn(connect.get("CODE_FUNC"), ("write_journal", "log_record_at"), connect)
        self.assertRegex(connect.get("CODE_LINE", ""), r"^[0-9]+$", connect)
        disconnect = self.ct.wait_journal(
            lambda e: e.get("MESSAGE_ID") == MSG_DISCONNECT and e.get("REMOTE_PORT") == port,
            unit="echo.service")
        self.assertIn(disconnect.get("REMOTE_ADDR"), LOOPBACK, disconnect)
        self.assertEqual(disconnect.get("BYTES_IN"), size, disconnect)
        self.assertEqual(disconnect.get("BYTES_OUT"), size, disconnect)
        self.assertGreater(int(disconnect.get("DURATION_USEC", "-1")), 0, disconnect)

    # 3. Reload keeps the process and the service.

    def test_05_reload_rereads_config_and_keeps_serving(self):
        self.start_socket()
        pid = self.ct.unit_property("echo.service", "MainPID")
        self.assertNotEqual(pid, "0", self.status())
        since = time.time()
        res = self.ct.systemctl("reload", "echo.service")
        self.assertEqual(res.returncode, 0, "%r\n%s" % (res, self.status()))
        self.ct.wait_journal(
            lambda e: e.get("MESSAGE_ID") == MSG_RELOAD
            and int(e.get("__REALTIME_TIMESTAMP", "0")) >= int(since * 1e6) - 1000000,
            unit="echo.service")
        self.assertEqual(self.ct.unit_property("echo.service", "ActiveState"), "active")
        self.assertEqual(self.ct.unit_property("echo.service", "MainPID"), pid)
        self.assertEqual(tcp_echo(b"after reload\n")[0], b"after reload\n")

    # 3b. The control socket: echoctl against the socket-activated daemon, and
    # a reload that fails on a broken config file (issue 10).

    def test_05b_echoctl_status_against_the_socket_activated_daemon(self):
        self.start_socket()
        self.assertEqual(tcp_echo(b"for status\n")[0], b"for status\n")
        self.assertEqual(self.ct.unit_property("echo-control.socket", "ActiveState"), "active")
        res = self.ct.run(["echoctl", "status"])
        self.assertEqual(res.returncode, 0, "%r\n%s" % (res, self.status()))
        self.assertRegex(res.stdout, r"^ok echod ")
        self.assertRegex(res.stdout, r"echo: accepting; .*sockets: tcp ")
        self.assertIn("sockets: unix /run/echod/control", res.stdout)
        self.assertEqual(self.ct.run(["sh", "-c", "stat -c %a /run/echod/control"]).stdout.strip(),
                         "660")

    def test_05c_reload_fails_on_a_broken_config_file(self):
        self.start_socket()
        self.assertEqual(tcp_echo(b"x")[0], b"x")
        pid = self.ct.unit_property("echo.service", "MainPID")
        # The file echod reads: /etc/echod/echod.conf for a /usr build, under the prefix otherwise.
        m = re.search(r"--config FILE\s+config file \(default (\S+)\)",
                      self.ct.check(["echod", "--help"]))
        self.assertIsNotNone(m)
        conf = m.group(1)
        saved = self.ct.run(["cat", conf])
        try:
            self.ct.check(["sh", "-c", "mkdir -p \"${0%/*}\" && echo 'idle-timeout = soon' > \"$0\"",
                           conf])
            res = self.ct.systemctl("reload", "echo.service")
            self.assertNotEqual(res.returncode, 0, "%r\n%s" % (res, self.status()))
            self.assertRegex(self.status(), r"echod\.conf:1: idle-timeout")
            self.assertEqual(self.ct.unit_property("echo.service", "ActiveState"), "active")
            self.assertEqual(self.ct.unit_property("echo.service", "MainPID"), pid)
            self.assertEqual(tcp_echo(b"still serving\n")[0], b"still serving\n")
        finally:
            if saved.returncode == 0:
                self.ct.run(["sh", "-c", "cat > \"$0\"", conf], input=saved.stdout)
            else:
                self.ct.run(["rm", "-f", conf])
        self.assertEqual(self.ct.systemctl("reload", "echo.service").returncode, 0, self.status())

    # 4. UDP through echo-udp.socket (shipped, not enabled).

    def test_06_udp_enabled_on_a_running_system_with_the_documented_command(self):
        # The command README.md and docs/packaging.md give, run exactly as
        # written while echo.service serves TCP. (systemd 252 refuses to start
        # a socket whose service already runs, so "enable --now" alone fails.)
        self.assertIn(ENABLE_UDP, readme())
        self.start_socket("echo.socket")
        self.assertEqual(tcp_echo(b"before\n")[0], b"before\n")
        self.assertEqual(self.ct.wait_state("echo.service", "active"), "active", self.status())
        self.assertEqual(self.ct.unit_property("echo-udp.socket", "ActiveState"), "inactive")
        # A connection open across the command: the restart hands it over.
        held = socket.create_connection(("127.0.0.1", 7), timeout=10)
        self.addCleanup(held.close)
        held.sendall(b"held\n")
        self.assertEqual(echotest.recv_exactly(held, 5), b"held\n")
        res = self.ct.run(["sh", "-c", ENABLE_UDP])
        self.assertEqual(res.returncode, 0, "%r\n%s" % (res, self.status()))
        payload = b"udp echo %d" % random.getrandbits(32)
        data, peer = udp_echo(payload)
        self.assertEqual(data, payload)
        self.assertEqual(peer, ("127.0.0.1", 7))
        self.assertEqual(self.ct.unit_property("echo.service", "ActiveState"), "active")
        self.assertEqual(self.ct.run("systemctl is-enabled echo-udp.socket").stdout.strip(), "enabled")
        self.assertEqual(tcp_echo(b"tcp too\n")[0], b"tcp too\n")
        held.sendall(b"still here\n")
        self.assertEqual(echotest.recv_exactly(held, 11), b"still here\n", self.status())

    def test_06b_udp_alone_opens_no_tcp_port(self):
        self.ct.check("systemctl stop echo.service echo.socket echo-udp.socket")
        self.start_socket("echo-udp.socket")
        payload = b"udp alone %d" % random.getrandbits(32)
        self.assertEqual(udp_echo(payload)[0], payload)
        self.assertEqual(self.ct.wait_state("echo.service", "active"), "active", self.status())
        # The service was started by UDP alone; it must not pull echo.socket in.
        self.assertEqual(self.ct.unit_property("echo.socket", "ActiveState"), "inactive")
        self.assertTrue(echotest.connection_refused(("127.0.0.1", 7)))

    def test_06c_deleted_config_file_means_defaults(self):
        self.ct.check("systemctl stop echo.service echo-udp.socket")
        self.ct.check("rm -f /etc/echod/echod.conf")
        self.start_socket("echo.socket")
        self.assertEqual(tcp_echo(b"no config\n")[0], b"no config\n")
        self.assertEqual(self.ct.wait_state("echo.service", "active"), "active", self.status())

    # 5. Hardening figure.

    def test_07_security_exposure(self):
        res = self.ct.run(["systemd-analyze", "security", "--no-pager", "echo.service"])
        m = re.search(r"Overall exposure level for echo\.service:\s*([0-9.]+)\s*(\S+)", res.stdout)
        self.assertIsNotNone(m, res)
        exposure = float(m.group(1))
        sys.stderr.write("\nsystemd-analyze security echo.service: %s %s\n" % (m.group(1), m.group(2)))
        bad = [line for line in res.stdout.splitlines() if line.startswith("\u2717")]
        if bad:
            sys.stderr.write("settings that raise it:\n%s\n" % "\n".join(bad))
        self.assertLessEqual(exposure, MAX_EXPOSURE, res.stdout)

    # 6. Stop: clean exit, no failed state, the ports close.

    def test_07b_a_stalled_journald_does_not_stop_echo(self):
        """journald stopped: echod's records wait nowhere, echo goes on, drops are counted."""
        self.start_socket()
        journald = self.ct.check("systemctl show -P MainPID systemd-journald").strip()
        self.assertNotEqual(journald, "0")
        self.ct.check(["kill", "-STOP", journald])
        try:
            # Each connection is two records: enough to fill journald's socket queue many times.
            for i in range(1500):
                data, _ = tcp_echo(b"journal stalled %d\n" % i, timeout=5.0)
                self.assertEqual(data, b"journal stalled %d\n" % i)
        finally:
            self.ct.check(["kill", "-CONT", journald])
        entry = self.ct.wait_journal(
            lambda e: "log records dropped: the journal was not taking them"
            in str(e.get("MESSAGE", "")), unit="echo.service", timeout=30)
        self.assertEqual(entry.get("SYSLOG_IDENTIFIER"), "echod", entry)

    def test_08_stop_is_clean(self):
        self.start_socket()
        self.assertEqual(tcp_echo(b"x")[0], b"x")
        since = time.time()
        res = self.ct.systemctl("stop", "echo.service", "echo.socket", "echo-udp.socket",
                                "echo-control.socket")
        self.assertEqual(res.returncode, 0, res)
        for unit in UNITS:
            self.assertEqual(self.ct.unit_property(unit, "ActiveState"), "inactive",
                             self.status(unit))
            self.assertEqual(self.ct.unit_property(unit, "Result"), "success", self.status(unit))
        self.assertEqual(self.ct.unit_property("echo.service", "ExecMainStatus"), "0",
                         self.status())
        self.ct.wait_journal(
            lambda e: e.get("MESSAGE_ID") == MSG_STOP
            and int(e.get("__REALTIME_TIMESTAMP", "0")) >= int(since * 1e6) - 1000000,
            unit="echo.service")
        self.assertNotEqual(self.ct.run("systemctl is-failed echo.service").returncode, 0)
        self.assertTrue(echotest.connection_refused(("127.0.0.1", 7)))

    # 7. The chat through echo-chat.socket: its history survives a restart.

    def test_09_chat_history_survives_a_service_restart(self):
        self.ct.check("systemctl stop echo.service")
        self.start_socket("echo-chat.socket")
        password = "e2e chat password"
        alice = ChatLines("127.0.0.2")
        self.assertEqual(alice.line(), "NAME?")
        alice.send("alice")
        self.assertEqual(alice.line(), "PASSWORD?")
        alice.send(password)
        self.assertEqual(alice.until(r"^OK ")[-1], "OK welcome, alice", self.status())
        alice.send("written before the restart")
        alice.send("/history 1")
        self.assertRegex(alice.until(r"^OK ")[0], r"^HIST \S+ alice written before the restart$")
        pid = self.ct.unit_property("echo.service", "MainPID")

        res = self.ct.systemctl("restart", "echo.service")
        self.assertEqual(res.returncode, 0, "%r\n%s" % (res, self.status()))
        self.ct.wait_state("echo.service", "active")
        self.assertNotEqual(self.ct.unit_property("echo.service", "MainPID"), pid)
        alice.close()

        again = ChatLines("127.0.0.2")
        self.assertEqual(again.line(), "HELLO alice", self.status())
        self.assertEqual(again.line(), "PASSWORD?")
        again.send(password)
        lines = again.until(r"^OK welcome")
        again.send("/history 1")
        history = again.until(r"^OK ")
        again.close()
        self.assertRegex(lines[0], r"^TOKEN [0-9a-f]{64}$")
        self.assertRegex(history[0], r"^HIST \S+ alice written before the restart$", history)
        self.assertEqual(history[-1], "OK 1 message")
        res = self.ct.systemctl("stop", "echo.service", "echo-chat.socket")
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(self.ct.unit_property("echo.service", "Result"), "success", self.status())


if __name__ == "__main__":
    container.skip_unless_available()
    echotest.main()
