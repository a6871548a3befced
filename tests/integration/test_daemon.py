"""echod's systemd protocol (sd_notify), signals, reload and log file."""

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from echotest import Echod, NotifySocket, binary, connect, recv_exactly, main


class Notify(unittest.TestCase):
    def test_ready_carries_a_status(self):
        with Echod(["--echo", "127.0.0.1:0"]) as daemon:
            ready = daemon.notify.wait_key("READY", "1")
            self.assertIn("echo: 0 connections", ready["STATUS"])
            # No UDP socket, no UDP counts.
            self.assertNotIn("udp:", ready["STATUS"])
            daemon.stop()

    def test_status_counts_udp_only_with_a_udp_socket(self):
        with Echod(["--echo", "127.0.0.1:0", "--echo", "udp:127.0.0.1:0"]) as daemon:
            ready = daemon.notify.wait_key("READY", "1")
            self.assertIn("; udp: 0 echoed, 0 dropped", ready["STATUS"])
            daemon.stop()

    def test_status_follows_live_counts(self):
        with Echod(["--echo", "127.0.0.1:0"]) as daemon:
            with connect(daemon.address("tcp")) as s:
                s.sendall(b"abc")
                self.assertEqual(recv_exactly(s, 3), b"abc")
                daemon.notify.wait_for(lambda f: "echo: 1 connection (" in f.get("STATUS", ""))
            daemon.notify.wait_for(lambda f: re.search(r"echo: 0 connections \(1 total, 3 bytes", f.get("STATUS", "")))
            daemon.stop()

    def test_sigterm_sends_stopping_and_exits_zero(self):
        with Echod(["--echo", "127.0.0.1:0"]) as daemon:
            daemon.signal(signal.SIGTERM)
            daemon.notify.wait_key("STOPPING", "1")
            status, log = daemon.stop()
            self.assertEqual(status, 0)
            self.assertIn("echod stopped", log)

    def test_sigint_stops_like_sigterm(self):
        with Echod(["--echo", "127.0.0.1:0"]) as daemon:
            daemon.signal(signal.SIGINT)
            daemon.notify.wait_key("STOPPING", "1")
            self.assertEqual(daemon.stop()[0], 0)

    def test_watchdog_pings_at_half_the_interval(self):
        with Echod(["--echo", "127.0.0.1:0"], env={"WATCHDOG_USEC": "400000"}) as daemon:
            first = time.monotonic()
            daemon.notify.wait_key("WATCHDOG", "1")
            count = sum(1 for m in daemon.notify.messages if m.get("WATCHDOG") == "1")
            while count < 4:
                daemon.notify.wait_key("WATCHDOG", "1", timeout=5, since=daemon.notify.mark())
                count = sum(1 for m in daemon.notify.messages if m.get("WATCHDOG") == "1")
            elapsed = time.monotonic() - first
            # Four pings at 0.2 s: well inside the 0.4 s systemd would allow each.
            self.assertLess(elapsed, 3.0)
            daemon.stop()

    def test_watchdog_for_another_pid_is_ignored(self):
        with Echod(["--echo", "127.0.0.1:0"],
                   env={"WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1"}) as daemon:
            with connect(daemon.address("tcp")) as s:
                s.sendall(b"x")
                recv_exactly(s, 1)
            daemon.stop()
            self.assertFalse([m for m in daemon.notify.messages if "WATCHDOG" in m])

    def test_watchdog_for_our_pid_is_honoured(self):
        # The shell execs echod, so $$ is echod's pid.
        script = 'WATCHDOG_PID=$$ WATCHDOG_USEC=200000 exec "$0" --config /dev/null --echo 127.0.0.1:0'
        with Echod(argv0="/bin/sh", args=["-c", script, binary("echod")], raw_args=True) as daemon:
            daemon.notify.wait_key("WATCHDOG", "1")
            daemon.stop()


class Shutdown(unittest.TestCase):
    def test_sigterm_flushes_what_was_read_then_closes(self):
        with Echod(["--echo", "127.0.0.1:0"]) as daemon:
            s = connect(daemon.address("tcp"))
            payload = os.urandom(4 << 20)
            s.setblocking(False)
            sent = 0
            try:
                while sent < len(payload):
                    sent += s.send(payload[sent:sent + 65536])
            except BlockingIOError:
                pass
            self.assertGreater(sent, 0)
            daemon.signal(signal.SIGTERM)
            daemon.notify.wait_key("STOPPING", "1")
            s.setblocking(True)
            s.settimeout(10)
            got = bytearray()
            while True:
                data = s.recv(1 << 20)
                if not data:
                    break
                got += data
            s.close()
            status, log = daemon.stop()
            self.assertEqual(status, 0)
            # What echod read, it wrote back; the rest it never took.
            self.assertEqual(bytes(got), payload[:len(got)])
            m = re.search(r"\(shutdown\): (\d+) bytes in, (\d+) bytes out", log)
            self.assertTrue(m, log)
            self.assertEqual(int(m.group(1)), int(m.group(2)))
            self.assertEqual(int(m.group(2)), len(got))

    def test_peer_that_stays_is_cut_at_the_shutdown_timeout(self):
        with Echod(["--echo", "127.0.0.1:0", "--shutdown-timeout", "0.5"]) as daemon:
            s = connect(daemon.address("tcp"))
            s.sendall(b"hello")
            self.assertEqual(recv_exactly(s, 5), b"hello")
            daemon.signal(signal.SIGTERM)
            # We get EOF at once (FIN after the flushed data) but keep our side open.
            s.settimeout(10)
            self.assertEqual(s.recv(10), b"")
            daemon.proc.wait(timeout=10)  # no second SIGTERM: that would cut it short
            status, log = daemon.stop()
            self.assertEqual(status, 0)
            self.assertIn("shutdown timeout", log)
            s.close()

    def test_second_ctrl_c_stops_now_and_the_drain_line_says_so(self):
        # Issue 24: a peer that stays would hold the drain for an hour; the second SIGINT ends it.
        with Echod(["--echo", "127.0.0.1:0", "--shutdown-timeout", "3600"]) as daemon:
            s = connect(daemon.address("tcp"))
            s.sendall(b"hello")
            self.assertEqual(recv_exactly(s, 5), b"hello")
            daemon.signal(signal.SIGINT)
            daemon.notify.wait_key("STOPPING", "1")
            s.settimeout(10)
            self.assertEqual(s.recv(10), b"")  # drained: FIN, but our side stays open
            daemon.signal(signal.SIGINT)
            daemon.proc.wait(timeout=15)
            status, log = daemon.stop()
            self.assertEqual(status, 0)
            self.assertRegex(log, r"draining 1 connection\(s\), at most 3600 s "
                                  r"\(Ctrl-C again to stop now\)")
            self.assertNotIn("shutdown timeout", log)
            s.close()

    def test_sigterm_drain_line_has_no_ctrl_c_hint(self):
        with Echod(["--echo", "127.0.0.1:0"]) as daemon:
            daemon.signal(signal.SIGTERM)
            daemon.notify.wait_key("STOPPING", "1")
            status, log = daemon.stop()
            self.assertEqual(status, 0)
            self.assertIn("draining", log)
            self.assertNotIn("Ctrl-C", log)


class UnusableStateDirectory(unittest.TestCase):
    # Issue 24: --chat with a state directory echod cannot use stops echod at start, naming the path.
    def run_echod(self, state_dir):
        return subprocess.run([binary("echod"), "--config", "/dev/null", "--chat", "127.0.0.1:0",
                               "--echo", "127.0.0.1:0", "--state-dir", state_dir],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              timeout=30)

    def test_a_file_instead_of_a_directory(self):
        with tempfile.NamedTemporaryFile() as f:
            done = self.run_echod(f.name)
            self.assertEqual(done.returncode, 1, done.stderr)
            self.assertIn(f.name, done.stderr)

    def test_a_directory_whose_parent_is_missing(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "missing", "state")
            done = self.run_echod(path)
            self.assertEqual(done.returncode, 1, done.stderr)
            self.assertIn(path, done.stderr)


class Reload(unittest.TestCase):
    def test_sighup_notifies_reloading_then_ready_and_applies_config(self):
        with Echod(["--echo", "127.0.0.1:0"], config="log-level = info\n") as daemon:
            with open(daemon.config_path, "w") as f:
                f.write("log-level = debug\n")
            daemon.signal(signal.SIGHUP)
            reloading = daemon.notify.wait_key("RELOADING", "1")
            self.assertRegex(reloading.get("MONOTONIC_USEC", ""), r"^\d+$")
            now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            self.assertLess(abs(now_usec - int(reloading["MONOTONIC_USEC"])), 60_000_000)
            daemon.notify.wait_key("READY", "1", since=daemon.notify.messages.index(reloading))
            with connect(daemon.address("tcp")) as s:
                s.sendall(b"dbg")
                recv_exactly(s, 3)
            _, log = daemon.stop()
            self.assertIn("reloaded configuration", log)
            # Debug records (data in and out) after the reload.
            self.assertIn("3 bytes from 127.0.0.1", log)
            self.assertIn("3 bytes to 127.0.0.1", log)

    def test_bad_config_on_reload_keeps_running(self):
        with Echod(["--echo", "127.0.0.1:0"], config="idle-timeout = 300\n") as daemon:
            with open(daemon.config_path, "w") as f:
                f.write("idle-timeout = soon\n")
            mark = daemon.notify.mark()
            daemon.signal(signal.SIGHUP)
            daemon.notify.wait_key("RELOADING", "1", since=mark)
            daemon.notify.wait_key("READY", "1", since=mark)
            with connect(daemon.address("tcp")) as s:
                s.sendall(b"ok")
                self.assertEqual(recv_exactly(s, 2), b"ok")
            status, log = daemon.stop()
            self.assertEqual(status, 0)
            self.assertRegex(log, r"reload: .*echod.conf:1: idle-timeout: .*keeping the running configuration")

    def assert_echo_survives_reload(self, daemon):
        mark = daemon.notify.mark()
        daemon.signal(signal.SIGHUP)
        # A blocked open would stop the loop: no READY, and no echo.
        daemon.notify.wait_key("READY", "1", since=mark, timeout=10)
        with connect(daemon.address("tcp"), timeout=5) as s:
            s.sendall(b"alive")
            self.assertEqual(recv_exactly(s, 5), b"alive")

    def test_config_replaced_by_a_fifo_does_not_freeze_the_loop(self):
        with Echod(["--echo", "127.0.0.1:0"], config="idle-timeout = 300\n") as daemon:
            os.unlink(daemon.config_path)
            os.mkfifo(daemon.config_path)
            self.assert_echo_survives_reload(daemon)
            status, log = daemon.stop()
            self.assertEqual(status, 0)
            self.assertIn("reload: cannot read config file %s: not a regular file; keeping the "
                          "running configuration" % daemon.config_path, log)

    def test_log_file_replaced_by_a_fifo_does_not_freeze_the_loop(self):
        with Echod(["--echo", "127.0.0.1:0", "--log-file", "echod.log"]) as daemon:
            path = os.path.join(daemon.tmp, "echod.log")
            os.unlink(path)
            os.mkfifo(path)  # as a rotation gone wrong would leave it
            self.assert_echo_survives_reload(daemon)
            status, log = daemon.stop()
            self.assertEqual(status, 0)
            self.assertIn("reload: cannot reopen log file echod.log: not a regular file", log)

    def test_log_records_quoting_a_path_with_a_newline_stay_one_line(self):
        d = tempfile.mkdtemp(prefix="echod-nl-")
        conf_dir = os.path.join(d, "a\nb")
        os.mkdir(conf_dir)
        path = os.path.join(conf_dir, "echod.conf")
        with open(path, "w") as f:
            f.write("idle-timeout = 300\n")
        try:
            with Echod(["--echo", "127.0.0.1:0", "--config", path]) as daemon:
                mark = daemon.notify.mark()
                daemon.signal(signal.SIGHUP)
                daemon.notify.wait_key("READY", "1", since=mark)
                _, log = daemon.stop()
        finally:
            shutil.rmtree(d)
        self.assertIn("reloaded configuration from %s/a\\nb/echod.conf\n" % d, log)
        for line in log.splitlines():
            self.assertRegex(line, r"^<\d>", log)


class ReloadIdleTimeout(unittest.TestCase):
    def reload_with(self, daemon, text):
        with open(daemon.config_path, "w") as f:
            f.write(text)
        mark = daemon.notify.mark()
        daemon.signal(signal.SIGHUP)
        daemon.notify.wait_key("READY", "1", since=mark)

    def test_reload_to_zero_keeps_busy_connections(self):
        with Echod(["--echo", "127.0.0.1:0"], config="idle-timeout = 0.8\n") as daemon:
            s = connect(daemon.address("tcp"))
            self.reload_with(daemon, "idle-timeout = 0\n")
            started = time.monotonic()
            while time.monotonic() - started < 2.0:  # well past the old timeout
                s.sendall(b"busy")
                self.assertEqual(recv_exactly(s, 4), b"busy")
                time.sleep(0.2)
            s.close()
            _, log = daemon.stop()
            self.assertNotIn("idle timeout", log)

    def test_reload_from_zero_arms_open_connections(self):
        with Echod(["--echo", "127.0.0.1:0"], config="idle-timeout = 0\n") as daemon:
            s = connect(daemon.address("tcp"))
            s.sendall(b"x")
            recv_exactly(s, 1)
            self.reload_with(daemon, "idle-timeout = 0.5\n")
            s.settimeout(10)
            self.assertEqual(s.recv(1), b"", "an open idle connection was not closed after the reload")
            s.close()
            _, log = daemon.stop()
            self.assertIn("(idle timeout)", log)


class LogFile(unittest.TestCase):
    def test_log_file_gets_every_record_and_reopens_on_sighup(self):
        with Echod(["--echo", "127.0.0.1:0", "--log-file", "echod.log"]) as daemon:
            path = os.path.join(daemon.tmp, "echod.log")
            with connect(daemon.address("tcp")) as s:
                s.sendall(b"x")
                recv_exactly(s, 1)
            daemon.notify.wait_for(lambda f: "1 total" in f.get("STATUS", ""))
            os.rename(path, path + ".1")  # as logrotate does
            mark = daemon.notify.mark()
            daemon.signal(signal.SIGHUP)
            daemon.notify.wait_key("RELOADING", "1", since=mark)
            daemon.notify.wait_key("READY", "1", since=mark)
            daemon.stop()
            with open(path + ".1") as f:
                rotated = f.read()
            with open(path) as f:
                fresh = f.read()
            self.assertIn("listening on 127.0.0.1:", rotated)
            self.assertRegex(rotated, r"connect from 127.0.0.1 port \d+ SERVICE=echo REMOTE_ADDR=127.0.0.1")
            self.assertRegex(rotated, r"BYTES_IN=1 BYTES_OUT=1 DURATION_USEC=\d+")
            self.assertIn("reloaded configuration", fresh)
            self.assertIn("echod stopped", fresh)
            self.assertRegex(fresh, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z echod\[\d+\] <info> ")


class FullDisk(unittest.TestCase):
    def test_a_log_file_on_a_full_disk_never_stops_the_echo_and_drops_are_counted(self):
        if os.geteuid() != 0:
            self.fail("MISSING: root, to mount a small tmpfs for the log file (run as root)")
        disk = tempfile.mkdtemp(prefix="echod-full-")
        self.addCleanup(shutil.rmtree, disk, ignore_errors=True)
        mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", disk],
                               capture_output=True, text=True)
        self.assertEqual(mount.returncode, 0, "mount tmpfs: %s" % mount.stderr)
        self.addCleanup(subprocess.run, ["umount", "-l", disk])
        log = os.path.join(disk, "echod.log")
        daemon = Echod(["--echo", "127.0.0.1:0", "--log-file", log])
        try:
            # 16 KiB hold a few dozen records; two per connection.
            for i in range(400):
                with connect(daemon.address(), timeout=5) as s:
                    s.sendall(b"x")
                    self.assertEqual(recv_exactly(s, 1), b"x", "no echo after %d connections" % i)
            deadline = time.monotonic() + 15
            while "log records dropped: the log file" not in daemon.stderr() and \
                    time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertRegex(daemon.stderr(), r"[1-9]\d* log records dropped: the log file")
            # What did reach the file is whole records, one per line.
            with open(log, errors="replace") as f:
                text = f.read()
            self.assertTrue(text.endswith("\n"), "a record was cut off: %r" % text[-200:])
            for record in text.splitlines():
                self.assertRegex(record, r"^\d{4}-\d\d-\d\dT[\d:.]+Z echod\[\d+\] <\w+> ")
        finally:
            code, stderr = daemon.stop()
        self.assertEqual(code, 0, stderr)


class StalledStderr(unittest.TestCase):
    def test_a_pipe_nobody_reads_never_stops_the_echo(self):
        notify = NotifySocket()
        self.addCleanup(notify.close)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NOTIFY_SOCKET": notify.path}
        for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if key in os.environ:
                env[key] = os.environ[key]
        # Standard error is a pipe this test does not read until the end.
        proc = subprocess.Popen([binary("echod"), "--config", "/dev/null", "--echo", "127.0.0.1:0"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=env)
        self.addCleanup(lambda: (proc.kill(), proc.wait()) if proc.poll() is None else None)
        notify.wait_key("READY", "1")
        line = proc.stdout.readline().decode()
        addr = re.search(r"listening echo/tcp (\S+):(\d+)", line)
        addr = (addr.group(1), int(addr.group(2)))
        # Two records per connection: the 64 KiB pipe is full after a few hundred.
        for i in range(3000):
            with connect(addr, timeout=5) as s:
                s.sendall(b"x")
                self.assertEqual(recv_exactly(s, 1), b"x", "no echo after %d connections" % i)
        # Once the pipe is read again, the records that did not fit are counted.
        os.set_blocking(proc.stderr.fileno(), False)
        text = b""
        deadline = time.monotonic() + 15
        while b"log records dropped" not in text and time.monotonic() < deadline:
            select.select([proc.stderr], [], [], 1.0)
            try:
                text += proc.stderr.read() or b""
            except BlockingIOError:
                pass
        self.assertRegex(text.decode(errors="replace"),
                         r"<4>[1-9]\d* log records dropped: standard error was not taking them")
        # Every line that did get through is whole.
        for record in text.decode(errors="replace").splitlines():
            self.assertRegex(record, r"^<\d>")
        proc.terminate()
        self.assertEqual(proc.wait(timeout=20), 0)


if __name__ == "__main__":
    main()
