"""echod's command line and config file: flags, errors, busy ports."""

import os
import socket
import subprocess
import tempfile
import unittest

from echotest import Echod, binary, connect, recv_exactly, main


def run(*args, timeout=10):
    return subprocess.run([binary("echod"), *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


class Flags(unittest.TestCase):
    def test_help_lists_the_flags_and_exits_zero(self):
        res = run("--help")
        self.assertEqual(res.returncode, 0)
        for flag in ("--echo", "--config", "--check-config", "--log-file", "--strict-port", "--version"):
            self.assertIn(flag, res.stdout)

    def test_version_prints_the_project_version(self):
        res = run("--version")
        self.assertEqual(res.returncode, 0)
        with open(os.path.join(os.environ["ECHOD_SOURCE_DIR"], "CMakeLists.txt")) as f:
            import re
            version = re.search(r"project\(echod VERSION (\S+)", f.read()).group(1)
        self.assertEqual(res.stdout.strip(), "echod " + version)

    def assert_usage_error(self, res, *words):
        self.assertEqual(res.returncode, 2, res)
        lines = res.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, res.stderr)
        self.assertTrue(lines[0].startswith("echod: "), lines[0])
        for word in words:
            self.assertIn(word, lines[0])

    def test_bad_flags_exit_2_with_one_line(self):
        self.assert_usage_error(run("--bogus"), "--bogus")
        self.assert_usage_error(run("-q"), "-q")
        self.assert_usage_error(run("--config", "/dev/null", "--echo"), "--echo", "needs a value")
        self.assert_usage_error(run("--config", "/dev/null", "--echo", "99999"), "99999")
        self.assert_usage_error(run("--config", "/dev/null", "--echo", "not-an-address:7"), "not-an-address")
        self.assert_usage_error(run("--config", "/dev/null", "--max-connections", "0"), "max-connections")
        self.assert_usage_error(run("--config", "/dev/null", "--idle-timeout", "-1"), "idle-timeout")
        self.assert_usage_error(run("--config", "/dev/null", "--log-level", "loud"), "loud")
        self.assert_usage_error(run("--config", "/dev/null", "stray"), "stray")
        self.assert_usage_error(run("--config", "/dev/null", "--udp", "5"), "--udp")

    def test_control_characters_in_a_flag_are_escaped_in_the_error(self):
        res = run("--config", "/dev/null", "--log-level", "a\nb")
        self.assert_usage_error(res, "unknown level 'a\\nb'")
        res = run("--config", "/dev/null", "--echo", "\x1b[2J7")
        self.assert_usage_error(res, "'\\x1b[2J7'")
        self.assertNotIn("\x1b", res.stderr)
        res = run("--config", "/dev/null", "stray\targ")
        self.assert_usage_error(res, "stray\\targ")
        res = run("--config", "/dev/null", "--echo", "127.0.0.1:0", "--log-file", "/nonexistent/a\nb.log")
        self.assertEqual(res.returncode, 1, res)
        self.assertEqual(len(res.stderr.strip().splitlines()), 1, res.stderr)
        self.assertIn("/nonexistent/a\\nb.log", res.stderr)

    def test_missing_config_file_exits_2(self):
        self.assert_usage_error(run("--config", "/nonexistent/echod.conf"), "/nonexistent/echod.conf")


class ConfigFile(unittest.TestCase):
    def write(self, text):
        f = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
        f.write(text)
        f.close()
        self.addCleanup(os.unlink, f.name)
        return f.name

    def test_shipped_config_is_valid(self):
        path = os.path.join(os.environ["ECHOD_SOURCE_DIR"], "systemd", "echod.conf")
        res = run("--config", path, "--check-config")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("configuration OK", res.stdout)

    def test_check_config_says_when_defaults_apply(self):
        # Without --config, a missing default file is fine, and --check-config says so.
        res = run("--check-config")
        self.assertEqual(res.returncode, 0, res.stderr)
        path = res.stdout.split("(", 1)[1].split(" ", 1)[0].rstrip(")\n")
        self.assertTrue(path.startswith("/"), res.stdout)
        if os.path.exists(path):
            self.assertEqual(res.stdout, "echod: configuration OK (%s)\n" % path)
        else:
            self.assertEqual(res.stdout,
                             "echod: configuration OK (%s does not exist: defaults apply)\n" % path)

    def test_control_characters_in_the_file_are_escaped_in_the_error(self):
        path = self.write("log-level = de\x1b[31mbug\x7f\n")
        res = run("--config", path, "--check-config")
        self.assertEqual(res.returncode, 2)
        self.assertEqual(res.stderr.strip().splitlines(),
                         ["echod: %s:1: log-level: unknown level 'de\\x1b[31mbug\\x7f' (emerg alert "
                          "crit err warning notice info debug)" % path])

    def test_bad_config_names_file_and_line_and_exits_2(self):
        path = self.write("# comment\nidle-timeout = 5\nfrobnicate = yes\n")
        res = run("--config", path)
        self.assertEqual(res.returncode, 2)
        self.assertEqual(res.stderr.strip(), "echod: %s:3: unknown key 'frobnicate'" % path)
        res = run("--config", path, "--check-config")
        self.assertEqual(res.returncode, 2)

    def test_binary_junk_config_is_refused(self):
        path = self.write("")
        with open(path, "wb") as f:
            f.write(b"\x00\xff\xfe garbage \x00\n")
        res = run("--config", path)
        self.assertEqual(res.returncode, 2)
        self.assertIn("not a text file", res.stderr)

    def test_config_file_settings_apply_and_flags_override(self):
        path = self.write("echo = 127.0.0.1:0\nmax-connections = 1\n")
        with Echod(["--config", path, "--max-connections", "2"], raw_args=False) as daemon:
            addr = daemon.address("tcp")
            a, b = connect(addr), connect(addr)
            for s in (a, b):  # two are served: the flag's 2 won over the file's 1
                s.sendall(b"ok")
                self.assertEqual(recv_exactly(s, 2), b"ok")
            a.close()
            b.close()
            self.assertEqual(daemon.stop()[0], 0)


class NonRegularFiles(unittest.TestCase):
    """A FIFO (or a directory) where a file should be: a clear error, never a hang."""

    def fifo(self):
        d = tempfile.mkdtemp(prefix="echod-fifo-")
        path = os.path.join(d, "fifo")
        os.mkfifo(path)
        self.addCleanup(lambda: (os.unlink(path), os.rmdir(d)))
        return path

    def test_config_fifo_with_check_config_fails_at_once(self):
        path = self.fifo()
        # No writer ever comes: a blocking open or read would hang until the timeout.
        res = run("--config", path, "--check-config", timeout=10)
        self.assertEqual(res.returncode, 2, res)
        self.assertEqual(res.stderr.strip(),
                         "echod: cannot read config file %s: not a regular file" % path)

    def test_config_directory_is_refused(self):
        d = tempfile.mkdtemp(prefix="echod-dir-")
        self.addCleanup(os.rmdir, d)
        res = run("--config", d, "--check-config")
        self.assertEqual(res.returncode, 2, res)
        self.assertIn("not a regular file", res.stderr)

    def test_log_file_fifo_fails_at_once(self):
        path = self.fifo()
        res = run("--config", "/dev/null", "--echo", "127.0.0.1:0", "--log-file", path,
                  timeout=10)
        self.assertEqual(res.returncode, 1, res)
        self.assertIn("cannot open log file %s: not a regular file" % path, res.stderr)


class BusyPort(unittest.TestCase):
    def occupy(self):
        """Listen on a port of our own; return (socket, port)."""
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        self.addCleanup(s.close)
        return s, s.getsockname()[1]

    def test_busy_port_takes_the_next_free_one_and_says_so(self):
        _, port = self.occupy()
        if port >= 65535:
            self.skipTest("no port above")
        with Echod(["--echo", "127.0.0.1:%d" % port]) as daemon:
            host, got = daemon.address("tcp")
            self.assertGreater(got, port)
            with connect((host, got)) as s:
                s.sendall(b"next")
                self.assertEqual(recv_exactly(s, 4), b"next")
            _, log = daemon.stop()
            self.assertIn("port %d is busy; took %d instead" % (port, got), log)

    def test_strict_port_fails_on_a_busy_port(self):
        _, port = self.occupy()
        res = run("--config", "/dev/null", "--strict-port", "--echo", "127.0.0.1:%d" % port)
        self.assertEqual(res.returncode, 1)
        self.assertIn("cannot listen on 127.0.0.1:%d (tcp): Address already in use" % port, res.stderr)


class CheckUpgrade(unittest.TestCase):
    """The pre-flight of an upgrade in place: does this binary read the running one's state?"""

    def state_version(self):
        import re
        with open(os.path.join(os.environ["ECHOD_SOURCE_DIR"], "src/proto/handover.h")) as f:
            return int(re.search(r"#define HANDOVER_VERSION\s+(\d+)", f.read()).group(1))

    def test_its_own_state_version_is_accepted_silently(self):
        res = run("--check-upgrade", str(self.state_version()))
        self.assertEqual((res.returncode, res.stdout, res.stderr), (0, "", ""))

    def test_another_state_version_is_refused_with_one_line(self):
        res = run("--check-upgrade", str(self.state_version() + 1))
        self.assertEqual(res.returncode, 1, res)
        lines = res.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, res.stderr)
        self.assertIn("does not read hand-over state version", lines[0])

    def test_a_version_that_is_no_number_is_a_usage_error(self):
        for bad in ("x", "-1", "", "1x", "99999999999999999999999"):
            res = run("--check-upgrade", bad)
            self.assertEqual(res.returncode, 2, (bad, res))
            self.assertEqual(len(res.stderr.strip().splitlines()), 1, res.stderr)


if __name__ == "__main__":
    main()
