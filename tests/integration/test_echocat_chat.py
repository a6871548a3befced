"""echocat --chat against a real echod: piped register and login, the session
token kept (mode 0600) and reused, a refused token dropped, /logout; and on a
pseudo-terminal: the half-typed line survives incoming messages, the password
is not echoed, the terminal is restored at every exit."""

import os
import pty
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import termios
import time
import unittest

import echotest

ECHOCAT = echotest.binary("echocat")
PASSWORD = "correct horse battery"
TOKEN_RE = re.compile(r"^TOKEN ([0-9a-f]{64})$", re.M)


class ChatServer:
    """echod with a chat socket on a free loopback port and its own state directory."""

    def __init__(self):
        self.state = tempfile.mkdtemp(prefix="echocat-chat-state-")
        self.daemon = echotest.Echod(["--echo", "127.0.0.1:0", "--chat", "127.0.0.1:0",
                                      "--state-dir", self.state])
        self.host, self.port = self.daemon.address("tcp", "chat")

    def close(self):
        self.daemon.close()
        shutil.rmtree(self.state, ignore_errors=True)


class LineClient:
    """A plain protocol client (another user), from its own loopback address."""

    def __init__(self, server, source):
        self.sock = socket.create_connection((server.host, server.port), timeout=10,
                                             source_address=(source, 0))
        self.buffer = b""

    def line(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError("server closed; buffered %r" % self.buffer)
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def expect(self, prefix, timeout=10.0):
        """Read lines until one starts with prefix; return it."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no line starting with %r; got %r" % (prefix, seen))
            line = self.line(left)
            if line.startswith(prefix):
                return line
            seen.append(line)

    def send(self, text):
        self.sock.sendall(text.encode() + b"\n")

    def register(self, name, password):
        self.expect("NAME?")
        self.send(name)
        self.expect("PASSWORD?")
        self.send(password)
        self.expect("OK welcome")

    def close(self):
        self.sock.close()


class ChatTestCase(unittest.TestCase):
    def setUp(self):
        self.server = ChatServer()
        self.addCleanup(self.server.close)
        self.config = tempfile.mkdtemp(prefix="echocat-chat-config-")
        self.addCleanup(shutil.rmtree, self.config, True)
        self.env = dict(os.environ, XDG_CONFIG_HOME=self.config, TZ="UTC")
        self.token_path = os.path.join(self.config, "echocat",
                                       "127.0.0.1-%d.token" % self.server.port)

    def args(self, *extra):
        return [ECHOCAT, "--chat"] + list(extra) + [self.server.host, str(self.server.port)]

    def run_piped(self, text, *extra):
        proc = subprocess.run(self.args(*extra), input=text.encode(), capture_output=True,
                              env=self.env, timeout=60)
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()

    def other_user(self, name="bob", source="127.0.0.2"):
        client = LineClient(self.server, source)
        self.addCleanup(client.close)
        client.register(name, "bob's password")
        return client

    def register_alice(self):
        rc, out, err = self.run_piped("alice\n%s\n" % PASSWORD)
        self.assertEqual(rc, 0, err)
        return TOKEN_RE.search(out).group(1)

    def stored_token(self):
        with open(self.token_path) as f:
            return f.read().strip()


class PipedTests(ChatTestCase):
    def test_piped_register_prints_the_protocol_lines_and_sends_messages(self):
        bob = self.other_user()
        rc, out, err = self.run_piped("alice\n%s\nhello from a pipe\n" % PASSWORD)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0], "NAME?")
        self.assertEqual(lines[1], "PASSWORD?")
        self.assertRegex(lines[2], TOKEN_RE)
        self.assertEqual(lines[3], "OK welcome, alice")
        self.assertRegex(bob.expect("MSG"), r"^MSG \S+Z alice hello from a pipe$")

    def test_token_is_stored_with_mode_0600_in_a_0700_directory(self):
        token = self.register_alice()
        self.assertEqual(self.stored_token(), token)
        self.assertEqual(stat.S_IMODE(os.stat(self.token_path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(self.token_path)).st_mode), 0o700)

    def test_second_run_logs_in_with_the_stored_token_without_a_password(self):
        token = self.register_alice()
        bob = self.other_user()
        rc, out, err = self.run_piped("no password needed\n")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines()[:4],
                         ["HELLO alice", "PASSWORD?", "TOKEN " + token, "OK welcome, alice"])
        self.assertNotIn("ERR", out)
        self.assertRegex(bob.expect("MSG"), r"alice no password needed$")

    def test_no_token_neither_uses_nor_stores_one(self):
        rc, out, err = self.run_piped("alice\n%s\n" % PASSWORD, "--no-token")
        self.assertEqual(rc, 0, err)
        self.assertIn("OK welcome, alice", out)
        self.assertFalse(os.path.exists(self.token_path))
        token = self.register_alice()
        # With --no-token the password is asked for although a token is stored.
        rc, out, err = self.run_piped("%s\n" % PASSWORD, "--no-token")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines()[:2], ["HELLO alice", "PASSWORD?"])
        self.assertIn("OK welcome, alice", out)
        self.assertEqual(self.stored_token(), token)

    def test_a_refused_stored_token_is_dropped_and_the_password_logs_in(self):
        old = self.register_alice()
        bad = "0" * 64
        with open(self.token_path, "w") as f:
            f.write(bad + "\n")
        rc, out, err = self.run_piped("%s\nafter a bad token\n" % PASSWORD)
        self.assertEqual(rc, 0, err)
        self.assertIn("ERR unknown token", out)
        self.assertIn("stored token was refused", err)
        self.assertIn("OK welcome, alice", out)
        new = self.stored_token()
        self.assertNotIn(new, (bad, old))
        self.assertIn("TOKEN " + new, out)

    def test_a_refused_token_leaves_no_file_when_the_login_fails(self):
        self.register_alice()
        with open(self.token_path, "w") as f:
            f.write("0" * 64 + "\n")
        # Input ends before any password: the bad token is gone all the same.
        rc, out, err = self.run_piped("")
        self.assertIn("ERR unknown token", out)
        self.assertFalse(os.path.exists(self.token_path))

    def test_logout_removes_the_stored_token(self):
        self.register_alice()
        self.assertTrue(os.path.exists(self.token_path))
        rc, out, err = self.run_piped("/logout\n")
        self.assertEqual(rc, 0, err)
        self.assertIn("BYE", out)
        self.assertFalse(os.path.exists(self.token_path))

    def test_input_that_ends_at_once_exits_after_the_server_answers(self):
        rc, out, err = self.run_piped("")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "NAME?\n")

    def test_chat_does_not_go_with_udp(self):
        rc, out, err = self.run_piped("", "--udp")
        self.assertEqual(rc, 2)
        self.assertIn("--chat", err)


class Terminal:
    """echocat --chat on a pseudo-terminal, read like `expect` does."""

    def __init__(self, args, env):
        self.master, self.slave = pty.openpty()
        # The terminal's settings before echocat runs, to compare with after it ends.
        self.initial_lflag = termios.tcgetattr(self.slave)[3]
        self.proc = subprocess.Popen(args, stdin=self.slave, stdout=self.slave, stderr=self.slave,
                                     env=env, close_fds=True, start_new_session=True,
                                     preexec_fn=self._controlling_terminal)
        self.all = b""
        self.seen = b""

    def _controlling_terminal(self):
        # ^C on the terminal becomes SIGINT only for its foreground process group.
        import fcntl
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    def lflag(self):
        return termios.tcgetattr(self.slave)[3]

    def expect(self, text, timeout=10.0):
        """Wait until text appears after what earlier expects consumed; return what came before."""
        needle = text.encode()
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("did not see %r; terminal shows %r" % (text, self.seen))
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                data = os.read(self.master, 65536)
                self.all += data
                self.seen += data
        index = self.seen.index(needle) + len(needle)
        before, self.seen = self.seen[:index], self.seen[index:]
        return before.decode(errors="replace")

    def drain(self, seconds=0.2):
        """Read whatever comes within a short while (only to look for what must not be there)."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                data = os.read(self.master, 65536)
                self.all += data
                self.seen += data

    def type(self, text):
        os.write(self.master, text.encode())

    def wait(self, timeout=10.0):
        return self.proc.wait(timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)


class TerminalTests(ChatTestCase):
    def start(self, *extra):
        term = Terminal(self.args(*extra), self.env)
        self.addCleanup(term.close)
        return term

    def test_incoming_message_redraws_the_prompt_with_the_half_typed_line(self):
        self.register_alice()
        bob = self.other_user()
        term = self.start()
        term.expect("welcome, alice")
        term.expect("> ")
        term.type("half a li")
        term.expect("half a li")
        bob.send("hi there")
        shown = term.expect("bob: hi there")
        self.assertRegex(shown, r"\[\d\d:\d\d\] bob: hi there$")
        # The prompt line was erased before the message, not overwritten...
        self.assertIn("\r\x1b[J", shown)
        # ...and drawn again below it with what was typed.
        term.expect("\r\n> half a li")
        term.type("ne\n")
        self.assertRegex(bob.expect("MSG"), r"^MSG \S+Z alice half a line$")
        term.type("\x04")
        self.assertEqual(term.wait(), 0)

    def test_a_line_over_the_server_limit_is_told_not_cut_silently(self):
        # Issue 24: a pasted line over 1024 bytes used to be cut without a word.
        self.register_alice()
        bob = self.other_user()
        term = self.start()
        term.expect("welcome, alice")
        term.expect("> ")
        term.type("x" * 1100)
        term.expect("! line full: the server takes at most 1024 bytes")
        term.type("\n")
        self.assertRegex(bob.expect("MSG"), r"^MSG \S+Z alice x{1024}$")
        term.type("\x04")
        self.assertEqual(term.wait(), 0)
        # Told once per full line, not once per byte past it.
        self.assertEqual(term.all.count(b"! line full"), 1)

    def test_a_separator_between_history_and_live_lines(self):
        self.register_alice()
        bob = self.other_user()
        bob.send("from the past")
        # Stored once /history counts it: the login below must show it as history.
        bob.send("/history 1")
        bob.expect("OK 1 message")
        term = self.start()
        term.expect("welcome, alice")
        term.expect("bob: from the past")
        term.expect("> ")
        bob.send("live now")
        shown = term.expect("bob: live now")
        self.assertIn("-- history above, live below --", shown)
        term.type("\x04")
        self.assertEqual(term.wait(), 0)
        self.assertEqual(term.all.count(b"-- history above"), 1)

    def test_password_is_not_echoed_and_the_name_is(self):
        term = self.start()
        term.expect("name: ")
        term.type("carol\n")
        term.expect("carol")
        term.expect("password: ")
        term.type("carol's secret\n")
        term.expect("welcome, carol")
        term.drain()
        self.assertNotIn(b"carol's secret", term.all)
        term.type("\x04")
        self.assertEqual(term.wait(), 0)
        # The token came, was kept, and never reached the screen.
        self.assertNotIn(self.stored_token().encode(), term.all)

    def test_terminal_is_restored_at_the_end_of_input(self):
        term = self.start()
        before = term.initial_lflag
        self.assertTrue(before & termios.ECHO and before & termios.ICANON)
        term.expect("name: ")
        during = term.lflag()
        self.assertFalse(during & termios.ECHO)
        self.assertFalse(during & termios.ICANON)
        term.type("\x04")
        self.assertEqual(term.wait(), 0)
        self.assertEqual(term.lflag(), before)

    def test_terminal_is_restored_after_ctrl_c(self):
        term = self.start()
        before = term.initial_lflag
        term.expect("name: ")
        term.type("half typ")
        term.expect("half typ")
        term.type("\x03")
        self.assertEqual(term.wait(), 130)
        self.assertEqual(term.lflag(), before)

    def test_terminal_is_restored_after_sigterm(self):
        term = self.start()
        before = term.initial_lflag
        term.expect("name: ")
        term.proc.send_signal(signal.SIGTERM)
        self.assertEqual(term.wait(), 130)
        self.assertEqual(term.lflag(), before)

    def test_stored_token_logs_in_without_asking(self):
        self.register_alice()
        term = self.start()
        term.expect("logging in with the stored token")
        shown = term.expect("welcome, alice")
        self.assertNotIn("password: ", shown)
        term.type("/quit\n")
        term.expect("* bye")
        self.assertEqual(term.wait(), 0)


if __name__ == "__main__":
    echotest.main()
