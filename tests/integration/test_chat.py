#!/usr/bin/env python3
"""The chat, as users see it (docs/chat.md), against a real echod.

Every client binds its own loopback source address (127.0.0.2, 127.0.0.3,
...) before it connects, so identification by address is exercised. Each
test starts its own echod with a fresh state directory and waits for
READY=1 on a notify socket of its own; nothing sleeps where a signal exists.
The only sleeps wait for wall-clock expiry (session tokens), which is what
they test. Timing assertions are lower bounds only: a busy machine can make
a pause longer, never shorter.
"""

import os
import re
import select
import selectors
import shutil
import signal
import socket
import tempfile
import threading
import time
import unittest

import echotest

PASSWORD = "correct horse battery"
TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
MSG_RE = re.compile(r"^MSG (" + TIME + r") (\S+) (.*)$")
HIST_RE = re.compile(r"^HIST (" + TIME + r") (\S+) (.*)$")
TOKEN_RE = re.compile(r"^TOKEN ([0-9a-f]{64})$")
# The documented pause after the n-th wrong password: 0.25 s, doubled each time.
FIRST_PAUSE = 0.25
# Seconds to wait for a line the server owes us; generous for a loaded machine and ASan.
WAIT = 30.0

SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")

_next_host = [1]


def new_address():
    """A loopback source address no other client of this run has used."""
    _next_host[0] += 1
    n = _next_host[0]
    return "127.0.%d.%d" % (n // 250, n % 250 + 1)


class Closed(Exception):
    """The server closed the connection."""


class Client:
    """A line-based chat client from its own loopback address."""

    def __init__(self, addr, source=None, rcvbuf=None, timeout=WAIT):
        self.source = source or new_address()
        family = socket.AF_INET6 if ":" in self.source else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind((self.source, 0))
        self.sock.settimeout(timeout)
        self.sock.connect(addr)
        self.buffer = b""
        self.closed = False
        self.timeout = timeout
        self.token = None

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, text, end="\n"):
        data = text.encode() if isinstance(text, str) else text
        self.sock.sendall(data + end.encode())

    def line(self, timeout=None):
        """The next line from the server, without its LF (raises Closed at EOF)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no line within the time; have %r" % self.buffer)
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed = True
                raise Closed("closed; unterminated %r" % self.buffer)
            self.buffer += data
        raw, _, self.buffer = self.buffer.partition(b"\n")
        return raw.decode("utf-8")

    def expect(self, pattern, skip=("JOIN ", "LEAVE ")):
        """Read lines, passing over presence lines, until one matches pattern (a regex)."""
        while True:
            text = self.line()
            if re.match(pattern, text):
                return text
            if skip and text.startswith(skip):
                continue
            raise AssertionError("expected %r, got %r" % (pattern, text))

    def until(self, pattern):
        """Every line up to and including the first that matches pattern."""
        lines = []
        while True:
            text = self.line()
            lines.append(text)
            if re.match(pattern, text):
                return lines

    def expect_closed(self):
        """Everything the server still sends, then its close."""
        lines = []
        try:
            while True:
                lines.append(self.line())
        except Closed:
            return lines

    def barrier(self):
        """Lines before the reply to /who: whatever was queued for us up to now."""
        self.send("/who")
        lines = self.until(r"^WHO( |$)")
        return lines[:-1]

    def close(self):
        self.sock.close()


def login_tail(client):
    """After a password or token is accepted: TOKEN, OK welcome, then HIST lines (returned)."""
    client.token = TOKEN_RE.match(client.expect(r"^TOKEN ")).group(1)
    client.expect(r"^OK welcome, ")
    history = []
    # The history ends where the first line that is not HIST would be; /who marks it.
    for text in client.barrier():
        if text.startswith("HIST "):
            history.append(text)
    return history


class ChatTestCase(unittest.TestCase):
    """Starts echod with a chat socket; every echod it started must exit cleanly."""

    def setUp(self):
        self.state_dir = tempfile.mkdtemp(prefix="echod-chat-state-")
        self.daemons = []
        self.clients = []

    def tearDown(self):
        for client in self.clients:
            client.close()
        for daemon in self.daemons:
            self.stop(daemon)
        for daemon in self.daemons:
            daemon.close()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def start(self, *extra, state_dir=None):
        args = ["--echo", "127.0.0.1:0", "--chat", "127.0.0.1:0",
                "--state-dir", state_dir or self.state_dir] + list(extra)
        daemon = echotest.Echod(args)
        self.daemons.append(daemon)
        self._drain_notify(daemon)
        self.addr = daemon.address("tcp", "chat")
        return daemon

    @staticmethod
    def _drain_notify(daemon):
        """Read sd_notify messages as systemd would: echod blocks when the queue is full.

        The queue holds only net.unix.max_dgram_qlen datagrams (10 by default),
        and echod sends a STATUS= each second the counts change.
        """
        daemon.drain_stop = threading.Event()
        daemon.notified = threading.Condition()
        daemon.notify_log = []

        def drain():
            while not daemon.drain_stop.is_set():
                ready, _, _ = select.select([daemon.notify.sock], [], [], 0.1)
                if ready:
                    data = daemon.notify.sock.recv(65536).decode()
                    with daemon.notified:
                        daemon.notify_log.append(data)
                        daemon.notified.notify_all()

        daemon.drainer = threading.Thread(target=drain, daemon=True)
        daemon.drainer.start()

    @staticmethod
    def wait_notify(daemon, line, since, timeout=WAIT):
        """Wait for an sd_notify message with line in it, after the first since messages."""
        with daemon.notified:
            found = daemon.notified.wait_for(
                lambda: any(line in m.split("\n") for m in daemon.notify_log[since:]), timeout)
        assert found, "no %r from echod: %r" % (line, daemon.notify_log[since:])

    def wait_log(self, daemon, text, timeout=WAIT):
        """Poll the daemon's log for text (a log line has no readiness signal)."""
        deadline = time.monotonic() + timeout
        while text not in daemon.stderr():
            self.assertLess(time.monotonic(), deadline, "no %r in the log" % text)
            time.sleep(0.1)

    def stop(self, daemon):
        """SIGTERM; echod must exit 0 with no sanitizer report (leaks at exit count)."""
        if getattr(daemon, "checked", False):
            return
        daemon.checked = True
        try:
            status, stderr = daemon.stop()
        finally:
            daemon.drain_stop.set()
            daemon.drainer.join()
        for report in SANITIZER_REPORTS:
            self.assertNotIn(report, stderr, stderr[-4000:])
        self.assertEqual(status, 0, stderr[-4000:])

    def client(self, source=None, **kwargs):
        client = Client(self.addr, source, **kwargs)
        self.clients.append(client)
        return client

    def register(self, name, password=PASSWORD, source=None, client=None):
        """A new user from a new address; returns the logged-in client."""
        client = client or self.client(source)
        client.expect(r"^NAME\?$")
        client.send(name)
        client.expect(r"^PASSWORD\?$")
        client.send(password)
        login_tail(client)
        return client

    def login(self, name, password=PASSWORD, source=None):
        """A known user from a new (or the given) address; returns (client, history)."""
        client = self.client(source)
        first = client.expect(r"^(NAME\?|HELLO \S+)$")
        if first.startswith("HELLO "):
            client.expect(r"^PASSWORD\?$")
            if first != "HELLO " + name:
                client.send("/name " + name)
                client.expect(r"^PASSWORD\?$")
        else:
            client.send(name)
            client.expect(r"^PASSWORD\?$")
        client.send(password)
        return client, login_tail(client)

    def token_login(self, token, source=None):
        """Log in with /token at the first prompt; returns (client, history)."""
        client = self.client(source)
        client.expect(r"^(NAME\?|PASSWORD\?)$", skip=("HELLO ",))
        client.send("/token " + token)
        history = login_tail(client)
        self.assertEqual(client.token, token, "a token login answers TOKEN with the same token")
        return client, history

    def log_text(self, daemon):
        return daemon.stderr()


class TestLogin(ChatTestCase):

    def test_register_then_hello_for_the_known_address(self):
        self.start()
        alice = self.register("alice")
        self.assertEqual(len(alice.token), 64)
        source = alice.source
        alice.send("/quit")
        self.assertEqual(alice.expect_closed(), ["BYE"])

        again = self.client(source)
        self.assertEqual(again.line(), "HELLO alice")
        self.assertEqual(again.line(), "PASSWORD?")
        again.send(PASSWORD)
        login_tail(again)
        self.assertNotEqual(again.token, alice.token, "a password login makes a fresh session")

    def test_passwords_starting_with_a_slash_are_written_with_two(self):
        # At a prompt, as after login, a line starting with / is a command and // escapes it.
        self.start()
        client = self.client()
        client.expect(r"^NAME\?$")
        client.send("slash")
        client.expect(r"^PASSWORD\?$")
        client.send("/starts with a slash")
        client.expect(r"^ERR log in first")
        client.expect(r"^PASSWORD\?$")
        client.send("//starts with a slash")
        login_tail(client)
        self.login("slash", "//starts with a slash")
        # /password takes the rest of its line as it is: this one starts with one slash.
        client.send("/password /another slash")
        client.expect(r"^TOKEN ")
        client.expect(r"^OK password changed")
        self.login("slash", "//another slash")

    def test_registered_name_from_a_new_address_logs_in(self):
        self.start()
        self.register("alice").close()
        client, _ = self.login("ALICE")  # names compare without regard to case
        client.send("/who")
        self.assertEqual(client.expect(r"^WHO "), "WHO alice")

    def test_invalid_names_and_short_password_get_err_and_a_fresh_prompt(self):
        self.start()
        client = self.client()
        client.expect(r"^NAME\?$")
        for bad in ("bad name", "x" * 33, "é", "a/b"):
            client.send(bad)
            client.expect(r"^ERR invalid name")
            client.expect(r"^NAME\?$")
        client.send("/who")
        client.expect(r"^ERR log in first")
        client.expect(r"^NAME\?$")
        client.send("carol")
        client.expect(r"^PASSWORD\?$")
        client.send("short")
        client.expect(r"^ERR password too short")
        client.expect(r"^PASSWORD\?$")
        client.send(PASSWORD)
        login_tail(client)

    def test_ipv6_clients_are_identified_too(self):
        daemon = self.start("--chat", "[::1]:0")
        addr6 = [a for svc, _, a in daemon.listening if svc == "chat" and ":" in a[0]]
        self.assertEqual(len(addr6), 1, daemon.listening)

        first = Client(addr6[0], "::1")
        self.clients.append(first)
        first.expect(r"^NAME\?$")
        first.send("v6user")
        first.expect(r"^PASSWORD\?$")
        first.send(PASSWORD)
        login_tail(first)
        first.close()
        again = Client(addr6[0], "::1")
        self.clients.append(again)
        self.assertEqual(again.line(), "HELLO v6user")

    def test_name_switch_at_the_password_prompt_after_hello(self):
        self.start()
        self.register("alice", source="127.0.9.2").close()
        self.register("bob", "bob password").close()
        client = self.client("127.0.9.2")
        self.assertEqual(client.line(), "HELLO alice")
        client.expect(r"^PASSWORD\?$")
        client.send("/name bob")
        client.expect(r"^PASSWORD\?$")
        client.send("bob password")
        login_tail(client)
        client.send("/who")
        self.assertEqual(client.expect(r"^WHO"), "WHO bob")
        client.close()
        # The address is remembered for the name that last logged in from it.
        again = self.client("127.0.9.2")
        self.assertEqual(again.line(), "HELLO bob")
        # /name with a new name registers it from here.
        again.expect(r"^PASSWORD\?$")
        again.send("/name dave")
        again.expect(r"^PASSWORD\?$")
        again.send("dave password")
        login_tail(again)
        again.send("/who")
        self.assertEqual(again.expect(r"^WHO"), "WHO dave")

    def test_wrong_password_pauses_grow_and_lock_out_after_five_across_reconnects(self):
        daemon = self.start("--log-file", os.path.join(self.state_dir, "echod.log"))
        self.register("alice", source="127.0.8.2").close()
        source = "127.0.8.3"
        wrong = "not the password %d"

        # Two failures on one connection: ERR, then PASSWORD? after at least the pause.
        first = self.client(source)
        first.expect(r"^NAME\?$")
        first.send("alice")
        first.expect(r"^PASSWORD\?$")
        for failure in (1, 2):
            first.send(wrong % failure)
            sent = time.monotonic()
            first.expect(r"^ERR wrong password$")
            first.expect(r"^PASSWORD\?$")
            pause = time.monotonic() - sent
            self.assertGreaterEqual(pause, FIRST_PAUSE * 2 ** (failure - 1) * 0.95)
        first.close()

        # A new connection from the same address goes on counting: 3, 4, then closed at 5.
        second = self.client(source)
        second.expect(r"^NAME\?$")
        second.send("alice")
        second.expect(r"^PASSWORD\?$")
        for failure in (3, 4):
            second.send(wrong % failure)
            sent = time.monotonic()
            second.expect(r"^ERR wrong password$")
            second.expect(r"^PASSWORD\?$")
            self.assertGreaterEqual(time.monotonic() - sent,
                                    FIRST_PAUSE * 2 ** (failure - 1) * 0.95)
        second.send(wrong % 5)
        self.assertEqual(second.expect_closed(),
                         ["ERR too many failed logins; try again later"])

        # The address is locked, even with the right password.
        third = self.client(source)
        self.assertEqual(third.expect_closed(), ["ERR too many failed logins; try again later"])

        # So is the name, from an address that never failed.
        other = self.client()
        other.expect(r"^NAME\?$")
        other.send("alice")
        self.assertEqual(other.expect_closed(), ["ERR too many failed logins; try again later"])

        # Another user from another address is not affected.
        self.register("bob")

        # The log names each failed login, never the password.
        self.stop(daemon)
        with open(os.path.join(self.state_dir, "echod.log"), errors="replace") as f:
            log = f.read()
        self.assertIn("failed login", log)
        self.assertIn("REMOTE_ADDR=127.0.8.3", log)
        for failure in range(1, 6):
            self.assertNotIn(wrong % failure, log)
        self.assertNotIn(PASSWORD, log)
        self.assertNotIn(PASSWORD, daemon.stderr())

    def test_the_log_never_holds_a_password_or_a_token(self):
        log_file = os.path.join(self.state_dir, "echod.log")
        daemon = self.start("--log-file", log_file)
        alice = self.register("alice", "alice secret 1")
        token = alice.token
        alice.send("/password alice secret 2")
        new_token = TOKEN_RE.match(alice.expect(r"^TOKEN ")).group(1)
        alice.send("/quit")
        alice.expect_closed()
        client = self.client()
        client.expect(r"^NAME\?$")
        client.send("/token " + token)  # revoked by the password change
        client.expect(r"^ERR unknown token$")
        client.expect(r"^NAME\?$")
        client.send("alice")
        client.expect(r"^PASSWORD\?$")
        client.send("alice secret 1")
        client.expect(r"^ERR wrong password$")
        client.expect(r"^PASSWORD\?$")
        client.send("/token " + new_token)
        login_tail(client)
        self.stop(daemon)
        with open(log_file, errors="replace") as f:
            log = f.read()
        failed = [line for line in log.splitlines() if "failed login" in line]
        self.assertEqual(len(failed), 2, log)
        self.assertTrue(all("SERVICE=chat" in line and "REMOTE_ADDR=" + client.source in line
                            for line in failed), failed)
        self.assertTrue(any("REASON=wrong password" in line for line in failed), failed)
        for secret in ("alice secret 1", "alice secret 2", token, new_token):
            self.assertNotIn(secret, log)
            self.assertNotIn(secret, daemon.stderr())

    def test_login_timeout(self):
        self.start("--chat-login-timeout", "1")
        client = self.client()
        started = time.monotonic()
        lines = client.expect_closed()
        self.assertEqual(lines, ["NAME?", "ERR login timeout"])
        self.assertGreaterEqual(time.monotonic() - started, 0.95)

    def test_busy_when_the_password_queue_is_full(self):
        self.start("--chat-queue", "1", "--chat-workers", "1")
        busy = 0
        # A burst beyond --chat-queue 1; another if a stalled machine served this one in turn.
        for burst_round in range(5):
            burst = []
            for i in range(12):
                client = self.client()
                client.expect(r"^NAME\?$")
                client.send("burst%d_%d" % (burst_round, i))
                client.expect(r"^PASSWORD\?$")
                burst.append(client)
            # All passwords at once: one job fits the queue, the others are refused.
            for client in burst:
                client.send(PASSWORD)
            for client in burst:
                while True:
                    text = client.expect(r"^(TOKEN |ERR busy)")
                    if text.startswith("TOKEN "):
                        client.expect(r"^OK welcome, ")
                        break
                    busy += 1
                    # Refused, not dropped: the prompt comes again and a retry is served.
                    client.expect(r"^PASSWORD\?$")
                    client.send(PASSWORD)
            if busy:
                break
        self.assertGreater(busy, 0, "bursts beyond --chat-queue 1 got no ERR busy")

    def test_two_registering_one_name_at_once(self):
        self.start()
        first, second = self.client(), self.client()
        for client in (first, second):
            client.expect(r"^NAME\?$")
            client.send("zed")
            client.expect(r"^PASSWORD\?$")
        first.send("first password")
        second.send("second password")
        results = [c.expect(r"^(TOKEN |ERR name taken)") for c in (first, second)]
        self.assertEqual(sorted(r.split()[0] for r in results), ["ERR", "TOKEN"], results)
        loser = second if results[1].startswith("ERR") else first
        loser.expect(r"^NAME\?$")
        winner_password = "first password" if loser is second else "second password"
        self.login("zed", winner_password)

    def test_reload_takes_chat_limits(self):
        config = os.path.join(self.state_dir, "echod.conf")
        with open(config, "w") as f:
            f.write("chat-history = 5\n")
        daemon = self.start("--config", config)
        alice = self.register("alice")
        for i in range(4):
            alice.send("m%d" % i)
        alice.barrier()
        _, history = self.login("alice")
        self.assertEqual(len(history), 4)
        with open(config, "w") as f:
            f.write("chat-history = 2\n")
        since = len(daemon.notify_log)
        daemon.signal(signal.SIGHUP)
        self.wait_notify(daemon, "RELOADING=1", since)
        self.wait_notify(daemon, "READY=1", since)
        # Logged-in users go on; the next login shows the new number of messages.
        alice.send("/who")
        alice.expect(r"^WHO alice$")
        _, history = self.login("alice")
        self.assertEqual([HIST_RE.match(t).group(3) for t in history], ["m2", "m3"])

    def test_max_pending_and_max_users(self):
        self.start("--chat-max-pending", "2", "--chat-max-users", "1")
        first = self.client()
        first.expect(r"^NAME\?$")
        second = self.client()
        second.expect(r"^NAME\?$")
        third = self.client()
        self.assertEqual(third.expect_closed(),
                         ["ERR busy: too many logins at once, try again later"])
        first.send("alice")
        first.expect(r"^PASSWORD\?$")
        first.send(PASSWORD)
        login_tail(first)
        second.send("bob")
        second.expect(r"^PASSWORD\?$")
        second.send(PASSWORD)
        self.assertEqual(second.expect_closed(), ["ERR server full: 1 users online"])

    def test_stop_with_connections_in_every_phase(self):
        daemon = self.start("--chat-workers", "1")
        online = self.register("alice")
        self.register("bob", source="127.0.7.2").close()
        at_name = self.client()
        at_name.expect(r"^NAME\?$")
        # Wrong password: stopping during the pause that follows.
        pausing = self.client("127.0.7.2")
        pausing.expect(r"^PASSWORD\?$", skip=("HELLO ",))
        pausing.send("wrong password")
        # Registrations queued behind one worker: stopping while their jobs are out.
        waiting = []
        for i in range(4):
            client = self.client()
            client.expect(r"^NAME\?$")
            client.send("waiting%d" % i)
            client.expect(r"^PASSWORD\?$")
            waiting.append(client)
        for client in waiting:
            client.send(PASSWORD)
        pausing.expect(r"^ERR wrong password$")
        self.stop(daemon)
        for client in [online, at_name, pausing] + waiting:
            lines = client.expect_closed()
            self.assertEqual(lines[-1:], ["BYE server stopping"], lines)

    def test_peer_closing_while_its_password_is_hashed(self):
        self.start()
        alice = self.register("alice")
        # printf 'bob\npassword\nhi\n' | nc -N: the end of input comes during the hash.
        nc = self.client()
        nc.send_raw(b"bob\n" + PASSWORD.encode() + b"\nhi from a pipe\n")
        nc.sock.shutdown(socket.SHUT_WR)
        lines = nc.expect_closed()
        self.assertEqual(lines[:2], ["NAME?", "PASSWORD?"])
        self.assertIn("OK welcome, bob", lines)
        self.assertEqual(alice.line(), "JOIN bob")
        self.assertEqual(MSG_RE.match(alice.line()).groups()[1:], ("bob", "hi from a pipe"))
        self.assertEqual(alice.line(), "LEAVE bob")


class TestTokens(ChatTestCase):

    def test_token_login_at_name_and_password_prompts(self):
        self.start()
        alice = self.register("alice")
        token = alice.token
        alice.close()
        at_name, _ = self.token_login(token)              # a new address: NAME?
        at_password, _ = self.token_login(token, alice.source)  # HELLO alice, PASSWORD?
        at_password.send("/who")
        self.assertEqual(at_password.expect(r"^WHO"), "WHO alice")

    def test_unknown_and_malformed_tokens_are_refused(self):
        self.start()
        client = self.client()
        client.expect(r"^NAME\?$")
        client.send("/token " + "0" * 64)
        client.expect(r"^ERR unknown token$")
        client.expect(r"^NAME\?$")
        client.send("/token xyz")
        client.expect(r"^ERR invalid token$")
        client.expect(r"^NAME\?$")

    def test_idle_token_expires(self):
        self.start("--chat-token-idle", "1")
        alice = self.register("alice")
        alice.close()
        time.sleep(1.3)  # the expiry under test is wall-clock time
        client = self.client()
        client.expect(r"^NAME\?$")
        client.send("/token " + alice.token)
        client.expect(r"^ERR expired token$")
        client.expect(r"^NAME\?$")
        # The password still works and gives a fresh token.
        client.send("alice")
        client.expect(r"^PASSWORD\?$")
        client.send(PASSWORD)
        login_tail(client)
        self.assertNotEqual(client.token, alice.token)

    def test_token_expires_after_its_lifetime(self):
        self.start("--chat-token-lifetime", "1")
        alice = self.register("alice")
        alice.close()
        time.sleep(1.3)
        client = self.client()
        client.expect(r"^NAME\?$")
        client.send("/token " + alice.token)
        client.expect(r"^ERR (expired|unknown) token$")

    def test_logout_revokes_the_token(self):
        self.start()
        alice = self.register("alice")
        alice.send("/logout")
        self.assertEqual(alice.expect_closed(), ["BYE logged out"])
        client = self.client()
        client.expect(r"^NAME\?$")
        client.send("/token " + alice.token)
        client.expect(r"^ERR unknown token$")

    def test_password_change_revokes_every_session(self):
        self.start()
        first = self.register("alice")
        second, _ = self.login("alice")
        old_tokens = (first.token, second.token)
        first.send("/password a brand new password")
        new_token = TOKEN_RE.match(first.expect(r"^TOKEN ")).group(1)
        first.expect(r"^OK password changed")
        self.assertNotIn(new_token, old_tokens)
        # The connection that changed it stays logged in and can still talk.
        first.send("/who")
        first.expect(r"^WHO alice$")
        for token in old_tokens:
            client = self.client()
            client.expect(r"^NAME\?$")
            client.send("/token " + token)
            client.expect(r"^ERR unknown token$")
        self.token_login(new_token)
        bad = self.client()
        bad.expect(r"^NAME\?$")
        bad.send("alice")
        bad.expect(r"^PASSWORD\?$")
        bad.send(PASSWORD)
        bad.expect(r"^ERR wrong password$")
        self.login("alice", "a brand new password")

    def test_logout_closes_every_connection_of_that_session_and_only_those(self):
        self.start()
        first = self.register("alice")
        same, _ = self.token_login(first.token)  # the same session on a second connection
        other, _ = self.login("alice")           # a session of its own
        bob = self.register("bob")
        first.send("/logout")
        self.assertEqual([t for t in first.expect_closed() if not t.startswith("JOIN ")],
                         ["BYE logged out"])
        self.assertIn("BYE session ended: logged out on another connection", same.expect_closed())
        # The other session goes on: it talks, and bob hears it.
        other.send("still here")
        self.assertEqual(MSG_RE.match(bob.expect(r"^MSG ")).group(3), "still here")

    def test_password_change_closes_the_users_other_connections(self):
        self.start()
        first = self.register("alice")
        by_password, _ = self.login("alice")
        by_token, _ = self.token_login(first.token)
        bob = self.register("bob")
        first.send("/password a brand new password")
        first.expect(r"^TOKEN ")
        first.expect(r"^OK password changed")
        for ended in (by_password, by_token):
            self.assertIn("BYE session ended: the password was changed", ended.expect_closed())
        # Nothing of the ended sessions is relayed; the changing connection still talks.
        first.send("after the change")
        lines = bob.until(r"^MSG ")
        self.assertEqual(MSG_RE.match(lines[-1]).group(3), "after the change")
        bob.send("/who")
        self.assertEqual(sorted(bob.expect(r"^WHO").split()), ["WHO", "alice", "bob"])


class TestRelay(ChatTestCase):

    def test_broadcast_reaches_every_other_user_once_and_not_the_sender(self):
        self.start()
        users = [self.register(name) for name in ("alice", "bob", "carol", "dave")]
        names = ["alice", "bob", "carol", "dave"]
        for user, name in zip(users, names):
            user.send("hello from %s" % name)
        for user, name in zip(users, names):
            got = {}
            while len(got) < len(names) - 1:
                text = user.expect(r"^MSG ")
                _, sender, body = MSG_RE.match(text).groups()
                self.assertNotIn(sender, got, "a message arrived twice")
                self.assertNotEqual(sender, name, "the sender got its own message")
                self.assertEqual(body, "hello from %s" % sender)
                got[sender] = body
        # Every message was relayed by now; nothing else may be queued.
        for user in users:
            extra = [t for t in user.barrier() if t.startswith("MSG ")]
            self.assertEqual(extra, [])

    def test_messages_reach_a_user_while_its_new_password_is_hashed(self):
        # One worker with registrations queued ahead: /password waits its turn.
        self.start("--chat-workers", "1")
        alice = self.register("alice")
        bob = self.register("bob")
        queued = []
        for i in range(4):
            client = self.client()
            client.expect(r"^NAME\?$")
            client.send("queued%d" % i)
            client.expect(r"^PASSWORD\?$")
            queued.append(client)
        for client in queued:
            client.send(PASSWORD)
        alice.send("/password a brand new password")
        for i in range(3):
            bob.send("while hashing %d" % i)
        lines = alice.until(r"^OK password changed")
        for client in queued:
            client.expect(r"^OK welcome, ", skip=("TOKEN ", "JOIN "))
        lines += alice.barrier()
        self.assertEqual([MSG_RE.match(t).group(3) for t in lines if t.startswith("MSG ")],
                         ["while hashing %d" % i for i in range(3)])
        # alice never stopped being online: no LEAVE or second JOIN for her.
        bob.send("/who")
        self.assertEqual(sorted(bob.expect(r"^WHO ").split()[1:]),
                         ["alice", "bob"] + ["queued%d" % i for i in range(4)])
        self.assertEqual([t for t in bob.barrier() if "alice" in t], [])

    def test_join_and_leave(self):
        self.start()
        alice = self.register("alice")
        bob = self.register("bob")
        self.assertEqual(alice.line(), "JOIN bob")
        bob.send("/quit")
        bob.expect_closed()
        self.assertEqual(alice.line(), "LEAVE bob")
        alice.send("/who")
        self.assertEqual(alice.line(), "WHO alice")

    def test_user_logged_in_twice_gets_messages_on_the_other_connection_and_one_join(self):
        self.start()
        bob = self.register("bob")
        alice1 = self.register("alice")
        alice2, _ = self.token_login(alice1.token)
        self.assertEqual(bob.line(), "JOIN alice")
        bob.send("from bob")
        for alice in (alice1, alice2):
            self.assertEqual(MSG_RE.match(alice.expect(r"^MSG ")).group(3), "from bob")
        alice1.send("from alice")
        self.assertEqual(MSG_RE.match(alice2.expect(r"^MSG ")).groups()[1:],
                         ("alice", "from alice"))
        self.assertEqual(MSG_RE.match(bob.expect(r"^MSG ", skip=None)).groups()[1:],
                         ("alice", "from alice"))
        # bob saw one JOIN alice (read above), none for the second login.
        self.assertEqual([t for t in bob.barrier() if t.startswith(("JOIN", "MSG"))], [])
        self.assertEqual([t for t in alice1.barrier() if t.startswith("MSG")], [])
        bob.send("/who")
        self.assertEqual(sorted(bob.expect(r"^WHO ").split()[1:]), ["alice", "bob"])
        # One connection of alice leaves: no LEAVE; the last one: LEAVE.
        alice1.send("/quit")
        alice1.expect_closed()
        alice2.send("/quit")
        alice2.expect_closed()
        self.assertEqual(bob.line(), "LEAVE alice")
        self.assertEqual(bob.barrier(), [])

    def test_join_is_sent_once_per_user(self):
        self.start()
        bob = self.register("bob")
        alice1 = self.register("alice")
        self.token_login(alice1.token)
        lines = bob.barrier()
        self.assertEqual(lines, ["JOIN alice"])

    def test_history_command_and_history_at_login(self):
        self.start()
        alice = self.register("alice")
        bob = self.register("bob")
        for i in range(5):
            alice.send("message %d" % i)
        for i in range(5):
            self.assertEqual(MSG_RE.match(bob.expect(r"^MSG ")).group(3), "message %d" % i)
        alice.send("/history 3")
        lines = [t for t in alice.until(r"^OK ") if not t.startswith("JOIN ")]
        self.assertEqual(lines[-1], "OK 3 messages")
        self.assertEqual([HIST_RE.match(t).groups()[1:] for t in lines[:-1]],
                         [("alice", "message 2"), ("alice", "message 3"),
                          ("alice", "message 4")])
        for bad in ("0", "abc", "1001", "-1"):
            alice.send("/history " + bad)
            alice.expect(r"^ERR /history takes a number")
        alice.send("/history")
        self.assertEqual(alice.until(r"^OK ")[-1], "OK 5 messages")
        alice.send("/nosuch")
        alice.expect(r"^ERR unknown command /nosuch")
        # A reconnect shows the history after OK welcome.
        bob.close()
        _, history = self.login("bob", source=bob.source)
        self.assertEqual([HIST_RE.match(t).group(3) for t in history],
                         ["message %d" % i for i in range(5)])

    def test_a_long_history_is_not_mistaken_for_a_slow_reader(self):
        # 400 messages of 1000 bytes: /history 400 is more than the 256 KiB output queue.
        self.start("--chat-rate", "100000", "--chat-burst", "100000", "--chat-history", "1000")
        alice = self.register("alice")
        body = "h" * 1000
        for i in range(400):
            alice.send("%d %s" % (i, body))
        alice.send("/history 400")
        lines = alice.until(r"^OK \d+ messages?$")
        shown = [HIST_RE.match(t).group(3) for t in lines if t.startswith("HIST ")]
        count = int(lines[-1].split()[1])
        self.assertEqual(len(shown), count)
        self.assertGreater(count, 0)
        # The newest ones, in order, ending with the last message.
        self.assertEqual(shown, ["%d %s" % (i, body) for i in range(400 - count, 400)])
        # Still connected, and so is a login that shows that much history.
        alice.send("/who")
        alice.expect(r"^WHO alice$")
        bob, history = self.login("alice")
        self.assertGreater(len(history), 0)
        self.assertEqual(HIST_RE.match(history[-1]).group(3), "399 " + body)

    def test_history_keeps_the_last_history_max_messages(self):
        self.start("--chat-history-max", "3")
        alice = self.register("alice")
        for i in range(5):
            alice.send("kept? %d" % i)
        alice.send("/history 10")
        lines = alice.until(r"^OK ")
        self.assertEqual([HIST_RE.match(t).group(3) for t in lines if t.startswith("HIST")],
                         ["kept? 2", "kept? 3", "kept? 4"])
        self.assertEqual(lines[-1], "OK 3 messages")

    def test_history_tokens_and_identities_survive_a_restart(self):
        daemon = self.start()
        alice = self.register("alice")
        bob = self.register("bob")
        alice.send("before the restart")
        bob.expect(r"^MSG ")
        bob.send("//slash message")
        self.assertEqual(MSG_RE.match(alice.expect(r"^MSG ")).group(3), "/slash message")
        self.stop(daemon)
        self.assertEqual(alice.expect_closed()[-1:], ["BYE server stopping"])
        bob.expect_closed()

        self.start()
        again = self.client(alice.source)
        self.assertEqual(again.line(), "HELLO alice")
        again.expect(r"^PASSWORD\?$")
        again.send(PASSWORD)
        history = login_tail(again)
        self.assertEqual([HIST_RE.match(t).groups()[1:] for t in history],
                         [("alice", "before the restart"), ("bob", "/slash message")])
        _, history = self.token_login(bob.token)
        self.assertEqual(len(history), 2)


class TestBadInput(ChatTestCase):

    def test_overlong_line_is_refused_and_the_connection_kept(self):
        self.start()
        alice = self.register("alice")
        bob = self.register("bob")
        alice.send("x" * 2000)
        alice.expect(r"^ERR line too long \(at most 1024 bytes\)$")
        alice.send("y" * 1025)
        alice.expect(r"^ERR line too long")
        alice.send("z" * 1024, end="\r\n")  # exactly the limit, with CRLF
        alice.send("next line works")
        self.assertEqual(MSG_RE.match(bob.expect(r"^MSG ")).group(3), "z" * 1024)
        self.assertEqual(MSG_RE.match(bob.expect(r"^MSG ")).group(3), "next line works")
        self.assertEqual([t for t in bob.barrier() if t.startswith("MSG")], [])

    def test_overlong_line_at_a_prompt(self):
        self.start()
        client = self.client()
        client.expect(r"^NAME\?$")
        client.send("n" * 5000)
        client.expect(r"^ERR line too long")
        client.expect(r"^NAME\?$")
        client.send("erin")
        client.expect(r"^PASSWORD\?$")

    def test_invalid_utf8_and_control_characters(self):
        self.start()
        alice = self.register("alice")
        bob = self.register("bob")
        bad_utf8 = [b"\xff", b"\xc0\xaf", b"caf\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]
        control = [b"tab\there", b"bell\x07", b"del\x7f", b"c1 \xc2\x85", b"esc \x1b[2J"]
        for data in bad_utf8:
            alice.send(data)
            alice.expect(r"^ERR invalid utf-8$")
        for data in control:
            alice.send(data)
            alice.expect(r"^ERR control character$")
        alice.send("caf\u00e9 \u2603 \U0001F600 fine")
        self.assertEqual(MSG_RE.match(bob.expect(r"^MSG ")).group(3),
                         "caf\u00e9 \u2603 \U0001F600 fine")
        self.assertEqual([t for t in bob.barrier() if t.startswith("MSG")], [])
        # At a prompt too: ERR and the prompt again.
        client = self.client()
        client.expect(r"^NAME\?$")
        client.send(b"\xfe")
        client.expect(r"^ERR invalid utf-8$")
        client.expect(r"^NAME\?$")

    def test_flood_gets_slow_down_and_refused_messages_are_not_relayed(self):
        self.start("--chat-rate", "0.01", "--chat-burst", "3")
        alice = self.register("alice")
        bob = self.register("bob")
        sent = 10
        for i in range(sent):
            alice.send("flood %d" % i)
        slow_down = [t for t in alice.barrier() if t.startswith("ERR slow down")]
        self.assertGreater(len(slow_down), 0)
        relayed = [MSG_RE.match(t).group(3) for t in bob.barrier() if t.startswith("MSG")]
        self.assertEqual(len(relayed) + len(slow_down), sent)
        self.assertEqual(relayed, ["flood %d" % i for i in range(len(relayed))])
        alice.send("/history 1000")
        stored = [t for t in alice.until(r"^OK ") if t.startswith("HIST")]
        self.assertEqual(len(stored), len(relayed), "a refused message was stored")

    def test_flood_limit_is_per_user_not_per_connection(self):
        self.start("--chat-rate", "0.01", "--chat-burst", "3")
        alice = self.register("alice")
        bob = self.register("bob")
        alice2, _ = self.login("alice", source="127.0.0.9")
        # Two connections of one user share one bucket of 3.
        for i in range(3):
            alice.send("first %d" % i)
        alice.barrier()
        alice2.send("second")
        self.assertTrue(any(t.startswith("ERR slow down") for t in alice2.barrier()))
        relayed = [MSG_RE.match(t).group(3) for t in bob.barrier() if t.startswith("MSG")]
        self.assertNotIn("second", relayed)

    def test_nc_style_crlf_and_pipelined_input(self):
        self.start()
        alice = self.register("alice")
        # Like `printf 'bob\r\n...' | nc`: everything in one write, CRLF line ends.
        nc = self.client()
        nc.send_raw(b"bob\r\n" + PASSWORD.encode() + b"\r\nhello over nc\r\n/who\r\n/quit\r\n")
        lines = nc.expect_closed()
        self.assertEqual(lines[0:2], ["NAME?", "PASSWORD?"])
        self.assertTrue(TOKEN_RE.match(lines[2]), lines)
        self.assertEqual(lines[3], "OK welcome, bob")
        self.assertEqual(lines[-1], "BYE")
        self.assertTrue(any(t.startswith("WHO ") for t in lines), lines)
        self.assertFalse(any("\r" in t for t in lines), lines)
        text = MSG_RE.match(alice.expect(r"^MSG ")).groups()[1:]
        self.assertEqual(text, ("bob", "hello over nc"))

    def test_peer_closing_mid_line_still_delivers_the_last_line(self):
        self.start()
        alice = self.register("alice")
        bob = self.register("bob")
        bob.send_raw(b"last words without a line end")
        bob.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(MSG_RE.match(alice.expect(r"^MSG ")).group(3),
                         "last words without a line end")
        self.assertEqual(alice.line(), "LEAVE bob")


class TestSlowReader(ChatTestCase):

    def test_a_client_that_never_reads_is_disconnected_and_others_get_everything(self):
        daemon = self.start("--chat-output-max", "16K", "--chat-rate", "100000",
                            "--chat-burst", "100000", "--chat-history", "0")
        sleeper = self.register("sleeper", client=self.client(rcvbuf=4096))
        reader = self.register("reader")
        writer = self.register("writer")
        body = "w" * 1000
        sent = 0
        received = 0
        # The kernel's socket buffers absorb some; send until the server gives up on it.
        while "slow reader" not in daemon.stderr():
            self.assertLess(sent, 40000, "the sleeper was never disconnected")
            for _ in range(100):
                writer.send("%d %s" % (sent, body))
                sent += 1
            # Read what the reader has so far, in order, so it never becomes slow itself.
            while received < sent:
                text = reader.expect(r"^(MSG |LEAVE sleeper)")
                if text.startswith("LEAVE"):
                    continue
                self.assertEqual(MSG_RE.match(text).group(3), "%d %s" % (received, body))
                received += 1
        self.assertIn("LEAVE sleeper", reader.barrier() + ["LEAVE sleeper"])
        # Everyone else still gets every message, and the writer nothing back.
        writer.send("after the sleeper")
        self.assertEqual(MSG_RE.match(reader.expect(r"^MSG ")).group(3), "after the sleeper")
        self.assertEqual([t for t in writer.barrier() if t.startswith("MSG")], [])
        # The sleeper finds its connection closed once it reads.
        sleeper.sock.settimeout(WAIT)
        rest = b""
        try:
            while True:
                data = sleeper.sock.recv(1 << 20)
                if not data:
                    break
                rest += data
        except ConnectionResetError:
            pass
        self.assertNotIn(b"after the sleeper", rest)
        self.assertIn("slow reader", daemon.stderr())


class TestKernelBuffers(ChatTestCase):

    def test_a_reader_that_never_reads_holds_at_most_socket_buffer_in_the_kernel(self):
        # socket-buffer (64K by default) bounds the chat's kernel queues as it
        # does echo's; the kernel doubles the value for its bookkeeping.
        daemon = self.start("--chat-output-max", "64M", "--chat-rate", "100000",
                            "--chat-burst", "100000", "--chat-history", "0")
        sleeper = self.register("sleeper", client=self.client(rcvbuf=4096))
        writer = self.register("writer")
        body = "w" * 1000
        for i in range(3000):  # 3 MB: more than the kernel would take unbounded
            writer.send("%d %s" % (i, body))
        writer.barrier()  # every message handled and queued for the sleeper
        port = self.addr[1]
        local = sleeper.sock.getsockname()
        out = echotest.run_helper(["ss", "-tnH", "state", "established",
                                   "( sport = :%d and dst %s:%d )" % (port, local[0], local[1])],
                                  text=True)
        queues = [line.split() for line in out.stdout.splitlines() if line.strip()]
        self.assertEqual(len(queues), 1, out.stdout)
        send_queue = int(queues[0][1])
        self.assertGreater(send_queue, 0, "the sleeper's data is not queued in the kernel")
        self.assertLessEqual(send_queue, 2 * 64 * 1024, out.stdout)
        self.assertNotIn("slow reader", daemon.stderr())


class TestClosing(ChatTestCase):

    def test_a_peer_that_never_reads_its_last_lines_is_closed_anyway(self):
        # It cannot hold a login slot forever: the login timeout closes it
        # even when the goodbye cannot be flushed.
        daemon = self.start("--chat-login-timeout", "1", "--chat-max-pending", "1",
                            "--chat-output-max", "64M")
        stuck = self.client(rcvbuf=4096)
        # Each bad name is answered with an ERR line and a new prompt; never read.
        stuck.send_raw(b"!\n" * 150000)
        self.wait_log(daemon, "disconnect (login timeout)")
        # The slot is free again.
        late = self.client()
        late.expect(r"^NAME\?$")


class TestClosingUser(ChatTestCase):

    def test_join_and_leave_pair_up_while_a_connection_lingers(self):
        # alice's first connection quits without reading its replies, so it
        # lingers while closing; her second login is no new arrival.
        self.start("--chat-output-max", "64M", "--chat-rate", "100000", "--chat-burst",
                   "100000", "--chat-history", "0")
        bob = self.register("bob")
        alice1 = self.register("alice", client=self.client(rcvbuf=4096))
        self.assertEqual(bob.line(), "JOIN alice")
        body = "x" * 1000
        for i in range(1000):
            bob.send("%d %s" % (i, body))
        bob.barrier()
        alice1.send_raw(b"/history 1000\n" * 12 + b"/quit\n")
        alice1.send("")  # nothing more; never read
        alice2, _ = self.token_login(alice1.token)
        alice2.send("/who")
        alice2.expect(r"^WHO ")
        # bob sees no second JOIN, and no LEAVE once the first connection is gone.
        self.assertEqual([t for t in bob.barrier() if "alice" in t], [])
        self.wait_log(self.daemons[0], "disconnect (quit)")
        self.assertEqual([t for t in bob.barrier() if "alice" in t], [])
        alice2.send("still here")
        self.assertEqual(MSG_RE.match(bob.expect(r"^MSG ", skip=None)).group(3), "still here")


def _nonblocking_client(addr, source):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.setblocking(False)
    sock.connect_ex(addr)
    return sock


class TestManyUsers(ChatTestCase):
    USERS = 200
    MESSAGES = 5
    # Registrations in flight at once: well below the 64-job password queue.
    CONCURRENCY = 32

    def test_200_users_every_message_to_every_other_user_once_in_order(self):
        self.start()
        started = time.monotonic()
        selector = selectors.DefaultSelector()
        count = self.USERS
        names = ["user%03d" % i for i in range(count)]
        state = {}

        class Peer:
            pass

        peers = []
        for i in range(count):
            peer = Peer()
            peer.index = i
            peer.name = names[i]
            peer.source = "127.1.%d.%d" % (i // 250, i % 250 + 1)
            peer.buffer = b""
            peer.out = b""
            peer.phase = "idle"
            peer.got = {}
            peer.busy = 0
            peers.append(peer)

        def send(peer, text):
            peer.out += text.encode() + b"\n"
            flush(peer)

        def flush(peer):
            while peer.out:
                try:
                    n = peer.sock.send(peer.out)
                except BlockingIOError:
                    break
                peer.out = peer.out[n:]
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if peer.out else 0)
            selector.modify(peer.sock, events, peer)

        def on_line(peer, text):
            if peer.phase == "name":
                self.assertEqual(text, "NAME?")
                send(peer, peer.name)
                peer.phase = "password"
            elif peer.phase == "password":
                if text == "PASSWORD?":
                    send(peer, PASSWORD)
                    peer.phase = "result"
                else:
                    self.assertTrue(text.startswith("ERR busy"), text)
            elif peer.phase == "result":
                if text.startswith("ERR busy"):
                    peer.busy += 1
                    peer.phase = "password"  # PASSWORD? follows; answer it again
                else:
                    self.assertTrue(TOKEN_RE.match(text), text)
                    peer.phase = "welcome"
            elif peer.phase == "welcome":
                self.assertTrue(text.startswith("OK welcome, "), text)
                peer.phase = "online"
                state["registering"] -= 1
                state["online"] += 1
            elif text.startswith(("JOIN ", "LEAVE ", "HIST ")):
                pass
            elif text.startswith("MSG "):
                _, sender, body = MSG_RE.match(text).groups()
                self.assertNotEqual(sender, peer.name, "a sender got its own message")
                index = int(body.split()[1])
                expected = len(peer.got.setdefault(sender, []))
                self.assertEqual(index, expected, "%s got %s's messages out of order or twice"
                                 % (peer.name, sender))
                peer.got[sender].append(index)
                state["delivered"] += 1
            elif text.startswith("WHO"):
                peer.phase = "done"
                state["done"] += 1
            else:
                self.fail("%s: unexpected %r" % (peer.name, text))

        def pump(until, limit=120.0):
            deadline = time.monotonic() + limit
            while not until():
                left = deadline - time.monotonic()
                self.assertGreater(left, 0, "stuck: %r" % state)
                for key, events in selector.select(min(left, 1.0)):
                    peer = key.data
                    if events & selectors.EVENT_WRITE:
                        flush(peer)
                    if not events & selectors.EVENT_READ:
                        continue
                    data = peer.sock.recv(1 << 16)
                    self.assertTrue(data, "%s was disconnected in phase %s" % (peer.name,
                                                                                 peer.phase))
                    peer.buffer += data
                    while b"\n" in peer.buffer:
                        raw, _, peer.buffer = peer.buffer.partition(b"\n")
                        on_line(peer, raw.decode())

        state.update(registering=0, online=0, delivered=0, done=0)
        try:
            waiting = list(peers)
            while state["online"] < count:
                while waiting and state["registering"] < self.CONCURRENCY:
                    peer = waiting.pop(0)
                    peer.sock = _nonblocking_client(self.addr, peer.source)
                    peer.phase = "name"
                    state["registering"] += 1
                    selector.register(peer.sock, selectors.EVENT_READ | selectors.EVENT_WRITE,
                                      peer)
                target = state["online"] + 1
                pump(lambda: state["online"] >= target)
            registered = time.monotonic()

            for k in range(self.MESSAGES):
                for peer in peers:
                    send(peer, "%s %d" % (peer.name, k))
            total = count * (count - 1) * self.MESSAGES
            pump(lambda: state["delivered"] >= total)
            # Everything has been relayed; /who is the barrier that catches duplicates.
            for peer in peers:
                send(peer, "/who")
            pump(lambda: state["done"] >= count)
        finally:
            for peer in peers:
                if hasattr(peer, "sock"):
                    selector.unregister(peer.sock)
                    peer.sock.close()
            selector.close()

        self.assertEqual(state["delivered"], total)
        for peer in peers:
            self.assertEqual(len(peer.got), count - 1)
            for sender, indexes in peer.got.items():
                self.assertEqual(indexes, list(range(self.MESSAGES)))
        print("\n%d users registered in %.1f s, %d deliveries in %.1f s"
              % (count, registered - started, total, time.monotonic() - registered))


if __name__ == "__main__":
    echotest.main()
