"""The control channel: echoctl and raw frames against a running echod."""

import json
import os
import pty
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from echotest import Echod, ProgramsForAnotherUser, binary, connect, recv_exactly, main

# The tests that run echod or echoctl as nobody run copies of them in a
# directory nobody can reach (echotest.ProgramsForAnotherUser): the checkout
# may be in /root, which only root may enter. Made once for the module.
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
programs_for_nobody = None


def setUpModule():
    global programs_for_nobody
    programs_for_nobody = ProgramsForAnotherUser("echod", "echoctl")


def tearDownModule():
    programs_for_nobody.close()


def control_path(daemon):
    for line in daemon.stdout().splitlines():
        if line.startswith("listening control/unix "):
            return line.split(" ", 2)[2]
    raise AssertionError("no control socket in %r" % daemon.stdout())


def start(args=(), config=None, open_to_all=False):
    """An echod with its control socket in a scratch directory."""
    tmp = tempfile.mkdtemp(prefix="echod-control-")
    if open_to_all:
        # Let another uid reach the socket file, so echod itself must refuse it.
        os.chmod(tmp, 0o755)
    path = os.path.join(tmp, "run", "control")
    daemon = Echod(["--echo", "127.0.0.1:0", "--control", path] + list(args), config=config)
    daemon.control_dir = tmp
    close = daemon.close

    def close_and_clean():
        close()
        shutil.rmtree(tmp, ignore_errors=True)
    daemon.close = close_and_clean
    if open_to_all:
        os.chmod(os.path.dirname(path), 0o755)
        os.chmod(path, 0o666)
    return daemon


def echoctl(daemon, *args, json_reply=False, timeout=20, as_nobody=False):
    """echoctl --socket (the daemon's) ARGS; as_nobody: run as user nobody."""
    if as_nobody:
        argv = AS_NOBODY + [programs_for_nobody.path("echoctl")]
    else:
        argv = [binary("echoctl")]
    argv += ["--socket", control_path(daemon)]
    if json_reply:
        argv.append("--json")
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=timeout)


def socket_answers(path):
    """True when something accepts connections on the AF_UNIX socket at path."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(path)
        except (FileNotFoundError, ConnectionRefusedError):
            return False
    return True


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def read_frame(sock):
    header = recv_exactly(sock, 4)
    if len(header) < 4:
        return None
    (length,) = struct.unpack(">I", header)
    return recv_exactly(sock, length).decode()


def raw(daemon):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(control_path(daemon))
    return s


def echoes(sock, payload=b"ping"):
    sock.sendall(payload)
    return recv_exactly(sock, len(payload)) == payload


class Commands(unittest.TestCase):
    def setUp(self):
        self.daemon = start()

    def tearDown(self):
        self.daemon.close()

    def test_status_names_version_services_and_sockets(self):
        with connect(self.daemon.address("tcp")) as s:
            self.assertTrue(echoes(s))
            r = echoctl(self.daemon, "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^ok echod \d+\.\d+\.\d+, pid %d" % self.daemon.pid)
        self.assertRegex(r.stdout, r"echo: accepting; 1 open, 1 total, 4 bytes in, 4 bytes out; "
                                   r"sockets: tcp 127\.0\.0\.1:\d+")
        self.assertIn("sockets: unix " + control_path(self.daemon), r.stdout)

    def test_json_replies_parse(self):
        status = json.loads(echoctl(self.daemon, "status", json_reply=True).stdout)
        self.assertTrue(status["ok"])
        self.assertEqual(status["pid"], self.daemon.pid)
        self.assertEqual([s["name"] for s in status["services"]], ["echo", "control"])
        stats = json.loads(echoctl(self.daemon, "stats", json_reply=True).stdout)
        self.assertEqual(stats["echo"]["total"], 0)
        logs = json.loads(echoctl(self.daemon, "logs", json_reply=True).stdout)
        self.assertTrue(any("starting" in r for r in logs["records"]))
        r = echoctl(self.daemon, "users", json_reply=True)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(json.loads(r.stdout), {"ok": False, "error": "chat is not running"})

    def test_stats_are_key_value_lines(self):
        with connect(self.daemon.address("tcp")) as s:
            self.assertTrue(echoes(s, b"12345"))
        r = echoctl(self.daemon, "stats")
        self.assertEqual(r.returncode, 0)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "ok")
        values = dict(line.split(" ", 1) for line in lines[1:])
        self.assertEqual(values["echo.bytes-in"], "5")
        self.assertEqual(values["echo.paused"], "no")

    def test_help_lists_the_commands(self):
        r = echoctl(self.daemon, "help")
        self.assertEqual(r.returncode, 0)
        for command in ("status", "pause", "resume", "shutdown", "reload", "logs", "clear-logs",
                        "forget-identities", "users", "kick", "stats"):
            self.assertIn(command, r.stdout)

    def test_chat_commands_answer_that_chat_is_not_running(self):
        for args in (["forget-identities"], ["users"], ["users", "remove", "bob"], ["kick", "bob"]):
            r = echoctl(self.daemon, *args)
            self.assertEqual(r.returncode, 1, args)
            self.assertEqual(r.stderr.strip(), "error chat is not running")

    def test_bad_arguments_are_errors_from_the_daemon(self):
        r = echoctl(self.daemon, "pause", "gopher")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown service 'gopher'", r.stderr)
        # The daemon's usage errors exit 2, as echoctl's own do (echoctl(8)).
        self.assertEqual(echoctl(self.daemon, "logs", "-n", "x").returncode, 2)
        self.assertEqual(echoctl(self.daemon, "status", "now").returncode, 2)
        self.assertIn("cannot be paused", echoctl(self.daemon, "pause", "control").stderr)

    def test_actions_are_logged_with_uid_and_pid(self):
        r = echoctl(self.daemon, "pause", "echo")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(self.daemon.stderr(), r"control: paused echo \(uid 0, pid \d+, socket\)")


class PauseResume(unittest.TestCase):
    def test_pause_stops_new_connections_while_open_ones_echo_and_resume_serves_the_queued(self):
        with start() as daemon:
            old = connect(daemon.address("tcp"))
            self.assertTrue(echoes(old))
            r = echoctl(daemon, "pause", "echo")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "ok paused echo"))
            # The kernel completes the handshake (backlog), but nobody serves it.
            new = connect(daemon.address("tcp"))
            new.sendall(b"queued")
            new.settimeout(1.0)
            with self.assertRaises(socket.timeout):
                new.recv(10)
            self.assertTrue(echoes(old, b"still here"))
            self.assertIn("echo: paused", echoctl(daemon, "status").stdout)
            r = echoctl(daemon, "resume")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "ok resumed echo"))
            new.settimeout(10)
            self.assertEqual(recv_exactly(new, 6), b"queued")
            old.close()
            new.close()

    def test_pausing_echo_pauses_udp_too_and_resume_answers_the_waiting_datagram(self):
        tmp = tempfile.mkdtemp(prefix="echod-control-")
        path = os.path.join(tmp, "control")
        with Echod(["--echo", "udp:127.0.0.1:0", "--control", path]) as daemon:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", 0))
                s.settimeout(10)
                s.sendto(b"before", daemon.address("udp"))
                self.assertEqual(s.recv(100), b"before")
                self.assertEqual(echoctl(daemon, "pause", "echo").returncode, 0)
                s.sendto(b"while paused", daemon.address("udp"))
                s.settimeout(1.0)
                with self.assertRaises(socket.timeout):
                    s.recv(100)
                self.assertEqual(echoctl(daemon, "resume", "echo").returncode, 0)
                s.settimeout(10)
                self.assertEqual(s.recv(100), b"while paused")
        shutil.rmtree(tmp, ignore_errors=True)

    def test_a_paused_state_survives_a_reload(self):
        with start(config="idle-timeout = 300\n") as daemon:
            self.assertEqual(echoctl(daemon, "pause", "all").returncode, 0)
            self.assertEqual(echoctl(daemon, "reload").stdout.strip(), "ok reloaded")
            status = json.loads(echoctl(daemon, "status", json_reply=True).stdout)
            self.assertTrue(status["services"][0]["paused"])
            self.assertFalse(status["services"][1]["paused"])  # control is never paused


class Lifecycle(unittest.TestCase):
    def test_shutdown_sends_stopping_and_exits_zero(self):
        with start() as daemon:
            path = control_path(daemon)
            r = echoctl(daemon, "shutdown")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "ok shutting down"))
            daemon.notify.wait_key("STOPPING", "1")
            status, log = daemon.stop()
            self.assertEqual(status, 0)
            self.assertIn("stopping", log)
            # The socket file was ours: it is gone.
            self.assertFalse(os.path.exists(path))

    def test_reload_with_a_bad_file_answers_error_and_keeps_serving(self):
        with start(config="idle-timeout = 300\n") as daemon:
            with open(daemon.config_path, "w") as f:
                f.write("# broken\nidle-timeout = soon\n")
            r = echoctl(daemon, "reload")
            self.assertEqual(r.returncode, 1)
            self.assertRegex(r.stderr, r"^error .*echod\.conf:2: idle-timeout: ")
            with connect(daemon.address("tcp")) as s:
                self.assertTrue(echoes(s))
            with open(daemon.config_path, "w") as f:
                f.write("idle-timeout = 30\n")
            self.assertEqual(echoctl(daemon, "reload").returncode, 0)

    def test_a_stale_socket_file_is_replaced(self):
        tmp = tempfile.mkdtemp(prefix="echod-stale-")
        path = os.path.join(tmp, "control")
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(path)
        stale.close()  # the file stays, nobody listens
        with Echod(["--echo", "127.0.0.1:0", "--control", path]) as daemon:
            self.assertEqual(echoctl(daemon, "status").returncode, 0)
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o660)
            self.assertEqual(daemon.stop()[0], 0)

    def test_a_live_socket_asked_for_is_not_taken(self):
        with start() as first:
            with Echod(["--echo", "127.0.0.1:0", "--control", control_path(first)],
                       wait_ready=False) as second:
                self.assertEqual(second.proc.wait(timeout=20), 1)
                self.assertIn("another echod answers there", second.stderr())
            self.assertEqual(echoctl(first, "status").returncode, 0)


class Logs(unittest.TestCase):
    def test_logs_show_recent_events(self):
        with start() as daemon:
            with connect(daemon.address("tcp")) as s:
                self.assertTrue(echoes(s))
            r = echoctl(daemon, "logs", "-n", "3")
            self.assertEqual(r.returncode, 0)
            lines = r.stdout.splitlines()
            self.assertEqual(lines[0], "ok")
            self.assertLessEqual(len(lines), 4)
            self.assertTrue(any("echo: connect from 127.0.0.1" in line for line in lines), lines)

    def test_follow_streams_a_new_connect_event(self):
        with start() as daemon:
            argv = [binary("echoctl"), "--socket", control_path(daemon), "logs", "-n", "0", "-f"]
            follower = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
            try:
                self.assertEqual(follower.stdout.readline().strip(), "ok")
                with connect(daemon.address("tcp")) as s:
                    port = s.getsockname()[1]
                    self.assertTrue(echoes(s))
                while True:
                    line = follower.stdout.readline()
                    self.assertTrue(line, "the stream ended")
                    if "echo: connect from 127.0.0.1 port %d" % port in line:
                        break
                # Stopping ends the stream, and echoctl with it.
                self.assertEqual(echoctl(daemon, "shutdown").returncode, 0)
                self.assertEqual(follower.wait(timeout=20), 0)
            finally:
                follower.kill()
                follower.wait()
                follower.stdout.close()

    def test_clear_logs_empties_the_records_and_the_file(self):
        tmp = tempfile.mkdtemp(prefix="echod-logfile-")
        log_file = os.path.join(tmp, "echod.log")
        with start(["--log-file", log_file]) as daemon:
            with connect(daemon.address("tcp")) as s:
                self.assertTrue(echoes(s))
            with open(log_file) as f:
                self.assertIn("connect from", f.read())
            r = echoctl(daemon, "clear-logs")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "ok cleared"))
            records = echoctl(daemon, "logs").stdout.splitlines()
            self.assertEqual(len(records), 2, records)  # "ok" and who cleared them
            self.assertIn("control: cleared the log records (uid 0", records[1])
            with open(log_file) as f:
                text = f.read()
            self.assertNotIn("connect from", text)
            self.assertEqual(len(text.splitlines()), 1, text)


class Access(unittest.TestCase):
    def test_another_uid_is_refused_with_a_frame_and_a_log_line(self):
        with start(open_to_all=True) as daemon:
            r = echoctl(daemon, "status", as_nobody=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn("access denied", r.stderr)
            self.assertEqual(r.stdout, "")
            self.assertRegex(daemon.stderr(), r"control: access denied \(uid 65534, pid \d+\)")
            # echod goes on serving its own.
            self.assertEqual(echoctl(daemon, "status").returncode, 0)

    def test_a_refused_socket_file_is_a_clear_message(self):
        with start() as daemon:
            os.chmod(daemon.control_dir, 0o755)
            r = echoctl(daemon, "status", as_nobody=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn("access denied", r.stderr)


class Frames(unittest.TestCase):
    def setUp(self):
        self.daemon = start()

    def tearDown(self):
        self.daemon.close()

    def still_serving(self):
        self.assertEqual(echoctl(self.daemon, "status").returncode, 0)

    def test_an_oversized_frame_is_refused_then_closed(self):
        with raw(self.daemon) as s:
            s.sendall(struct.pack(">I", 65537) + b"status")
            self.assertEqual(read_frame(s), "error frame too large (64 KiB at most)")
            self.assertEqual(s.recv(1), b"")
        self.assertIn("frame too large", self.daemon.stderr())
        self.still_serving()

    def test_a_frame_that_is_not_utf8_is_refused_then_closed(self):
        with raw(self.daemon) as s:
            s.sendall(frame(b"status \xc0\xaf"))
            self.assertEqual(read_frame(s), "error frame is not UTF-8 text")
            self.assertEqual(s.recv(1), b"")
        self.still_serving()

    def test_a_truncated_frame_is_logged_and_closed(self):
        with raw(self.daemon) as s:
            s.sendall(struct.pack(">I", 10) + b"stat")
        self.still_serving()
        self.assertIn("truncated frame", self.daemon.stderr())

    def test_requests_split_across_writes_and_several_per_connection(self):
        with raw(self.daemon) as s:
            data = frame(b"status") + frame(b"--json stats") + frame(b"nonsense")
            for i in range(len(data)):
                s.send(data[i:i + 1])
            self.assertTrue(read_frame(s).startswith("ok echod"))
            self.assertTrue(json.loads(read_frame(s))["ok"])
            self.assertEqual(read_frame(s), "error unknown command 'nonsense' (try help)")

    def test_an_empty_request_is_an_error(self):
        with raw(self.daemon) as s:
            s.sendall(frame(b""))
            self.assertEqual(read_frame(s), "error empty request (try help)")


class Client(unittest.TestCase):
    def test_no_daemon_is_a_clear_message(self):
        r = subprocess.run([binary("echoctl"), "--socket", "/nonexistent/echod/control", "status"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.strip(),
                         "echoctl: echod is not running (no control socket answers at "
                         "/nonexistent/echod/control)")

    def test_usage_errors_exit_2(self):
        for args in ([], ["frobnicate"], ["--socket"], ["--bogus", "status"]):
            r = subprocess.run([binary("echoctl")] + args, capture_output=True, text=True)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("Try 'echoctl --help'", r.stderr)
        self.assertEqual(subprocess.run([binary("echoctl"), "--help"],
                                        capture_output=True).returncode, 0)

    def test_the_users_standalone_socket_is_found_without_socket(self):
        runtime = tempfile.mkdtemp(prefix="echod-xdg-")
        env = {"XDG_RUNTIME_DIR": runtime}
        path = os.path.join(runtime, "echod", "control")
        with Echod(["--echo", "127.0.0.1:0", "--control", path], env=env) as daemon:
            # As root echoctl prefers /run/echod/control; only when nobody accepts
            # there (no file, or a stale one) does it fall back to the user's. Asked
            # by connecting, as echoctl does: a file alone is no daemon.
            if socket_answers("/run/echod/control"):
                self.skipTest("a system echod answers at /run/echod/control")
            r = subprocess.run([binary("echoctl"), "status"], capture_output=True, text=True,
                               env=dict(os.environ, XDG_RUNTIME_DIR=runtime))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("sockets: unix " + path, r.stdout)


class UserDaemon(unittest.TestCase):
    def test_a_users_echod_listens_under_xdg_runtime_dir_and_echoctl_finds_it(self):
        import pwd
        nobody = pwd.getpwnam("nobody")
        runtime = tempfile.mkdtemp(prefix="echod-xdg-")
        os.chown(runtime, nobody.pw_uid, nobody.pw_gid)
        daemon = None

        class NobodysEchod(Echod):
            def start(self, argv, **kwargs):
                # Let nobody reach the test's notify socket.
                os.chmod(self.notify.dir, 0o755)
                os.chmod(self.notify.path, 0o777)
                super().start(argv, **kwargs)

        def become_nobody():
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)

        try:
            daemon = NobodysEchod(["--echo", "127.0.0.1:0"], env={"XDG_RUNTIME_DIR": runtime},
                                  wait_ready=False, preexec_fn=become_nobody,
                                  argv0=programs_for_nobody.path("echod"))
            daemon.wait_ready()
            path = os.path.join(runtime, "echod", "control")
            self.assertEqual(control_path(daemon), path)
            self.assertEqual(os.stat(os.path.dirname(path)).st_mode & 0o777, 0o750)
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o660)
            r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=%d" % nobody.pw_gid,
                                "--clear-groups", programs_for_nobody.path("echoctl"), "status"],
                               capture_output=True, text=True, timeout=20,
                               env=dict(os.environ, XDG_RUNTIME_DIR=runtime))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("sockets: unix " + path, r.stdout)
            self.assertEqual(daemon.stop()[0], 0)
            self.assertFalse(os.path.exists(path))
        finally:
            if daemon:
                daemon.close()
            shutil.rmtree(runtime, ignore_errors=True)


class Console(unittest.TestCase):
    def test_console_on_a_terminal_answers_commands_and_help(self):
        notify_dir = tempfile.mkdtemp(prefix="echod-console-")
        control = os.path.join(notify_dir, "control")
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(binary("echod"), ["echod", "--config", "/dev/null", "--echo", "127.0.0.1:0",
                                       "--control", control, "--console"])
        try:
            output = b""

            def expect(text, timeout=15):
                nonlocal output
                deadline = time.monotonic() + timeout
                while text.encode() not in output:
                    left = deadline - time.monotonic()
                    self.assertGreater(left, 0, "no %r in %r" % (text, output))
                    ready, _, _ = select.select([fd], [], [], left)
                    if ready:
                        output += os.read(fd, 4096)
                found = output.index(text.encode()) + len(text)
                output = output[found:]

            expect("type help for the commands")
            os.write(fd, b"help\n")
            expect("clear-logs")
            os.write(fd, b"pause echo\n")
            expect("ok paused echo")
            os.write(fd, b"status\n")
            expect("echo: paused")
            os.write(fd, b"shutdown\n")
            expect("ok shutting down")
            _, status = os.waitpid(pid, 0)
            pid = 0
            self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        finally:
            if pid:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            os.close(fd)


if __name__ == "__main__":
    main()
