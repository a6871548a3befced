#!/usr/bin/env python3
"""The chat's login limits under attack (docs/chat.md, "Wrong passwords"),
against a real echod: password guesses raced over many connections, a
failure table churned from many addresses, one address holding every
pending-login slot, and the rules for new names and message text.

Clients bind their own loopback source addresses (127.x.y.z), so each
attacker is a distinct address. Nothing sleeps for synchronisation: a test
waits for the lines the server owes, and counts log lines only once every
connection involved has had its last answer. Assertions are bounds (at
most five passwords checked), never timings.
"""

import re
import selectors
import socket
import time

import echotest
from test_chat import PASSWORD, WAIT, ChatTestCase, Closed, login_tail

LOCKED = "ERR too many failed logins; try again later"
# The limit under test (CHAT_FAILURES_MAX in src/daemon/chat/session/chat_limits.h).
FAILURES_MAX = 5
BUSY = "ERR busy: too many logins from this address at once, try again later"
CHECKED_RE = re.compile(r"failed login: wrong password")


def addresses(block, count):
    """count loopback addresses in 127.BLOCK.0.0/16, none of them .0 or .255."""
    return ["127.%d.%d.%d" % (block, i // 250, i % 250 + 1) for i in range(count)]


def read_answers(clients, answered, until_any=False, timeout=WAIT):
    """Read lines from clients until answered(lines) holds for every one (or any one).

    Each client's lines are kept in client.answers; a client the server
    closes counts as answered once its close is read.
    """
    selector = selectors.DefaultSelector()
    waiting = 0
    done = lambda client: answered(client.answers) or client.closed
    for client in clients:
        if not hasattr(client, "answers"):
            client.answers = []
        if not done(client):
            selector.register(client.sock, selectors.EVENT_READ, client)
            waiting += 1
    try:
        deadline = time.monotonic() + timeout
        while waiting and not (until_any and waiting < len(clients)):
            left = deadline - time.monotonic()
            assert left > 0, "no answer within %g s: %r" % (
                timeout, [c.answers for c in clients if not done(c)][:5])
            for key, _ in selector.select(min(left, 1.0)):
                client = key.data
                try:
                    client.answers.append(client.line(timeout=left))
                except Closed:
                    pass
                # Lines already buffered are taken at once; select sees only the socket.
                while not done(client) and b"\n" in client.buffer:
                    client.answers.append(client.line(timeout=left))
                if done(client):
                    selector.unregister(client.sock)
                    waiting -= 1
    finally:
        selector.close()


def churn(addr, sources, lines, answered, window=64, timeout=WAIT):
    """From each source address, one connection that sends lines(i) (bytes) and waits
    until answered(received bytes) or the close; window of them at once."""
    selector = selectors.DefaultSelector()
    pending = list(sources)
    open_count = 0
    deadline = time.monotonic() + timeout
    try:
        while pending or open_count:
            while pending and open_count < window:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind((pending.pop(), 0))
                sock.settimeout(timeout)
                sock.connect(addr)
                sock.sendall(lines(len(pending)))
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ, [b""])
                open_count += 1
            assert time.monotonic() < deadline, "churn stuck"
            for key, _ in selector.select(1.0):
                data = key.fileobj.recv(4096)
                key.data[0] += data
                if not data or answered(key.data[0]):
                    selector.unregister(key.fileobj)
                    key.fileobj.close()
                    open_count -= 1
                    deadline = time.monotonic() + timeout
    finally:
        for key in list(selector.get_map().values()):
            key.fileobj.close()
        selector.close()


class TestPasswordRace(ChatTestCase):

    def test_many_connections_guessing_at_once_get_at_most_five_checks(self):
        # One worker, so that the guesses are still being hashed when the right password comes.
        daemon = self.start("--chat-workers", "1", "--chat-queue", "64")
        self.register("alice", source="127.3.0.1").close()
        sources = addresses(4, 40)
        clients = [self.client(source) for source in sources]
        for client in clients:
            client.expect(r"^NAME\?$")
            client.send("alice")
        for client in clients:
            client.expect(r"^PASSWORD\?$")
        guessers, last = clients[:-1], clients[-1]
        for i, client in enumerate(guessers):
            client.send("wrong guess %d" % i)
        # The right password once the limit shows (a lockout), while guesses are still out.
        read_answers(guessers, lambda lines: LOCKED in lines, until_any=True)
        last.send(PASSWORD)
        read_answers([last], lambda lines: any(t == LOCKED or t.startswith("TOKEN ")
                                               for t in lines))
        self.assertIn(LOCKED, last.answers, "the right password was checked beyond the limit")
        self.assertFalse(any(t.startswith("TOKEN ") for t in last.answers), last.answers)
        # Every guess answered: checked (ERR wrong password, then the prompt after the
        # pause, or the lockout), or refused unchecked (the lockout).
        read_answers(guessers, lambda lines: LOCKED in lines or "PASSWORD?" in lines)
        checked = len(CHECKED_RE.findall(daemon.stderr()))
        self.assertLessEqual(checked, FAILURES_MAX, "%d of 40 passwords checked" % checked)
        refused = sum(1 for c in guessers if LOCKED in c.answers)
        self.assertGreaterEqual(refused, len(guessers) - FAILURES_MAX)
        # The name stays locked, even with the right password from a fresh address.
        fresh = self.client("127.3.0.2")
        fresh.expect(r"^NAME\?$")
        fresh.send("alice")
        self.assertEqual(fresh.expect_closed(), [LOCKED])


class TestFailureTableChurn(ChatTestCase):
    CHURN = 2300

    def test_churning_the_failure_table_does_not_reset_a_victim(self):
        # Each churning connection waits out its pause after it has gone: room for them all.
        daemon = self.start("--chat-max-pending", "10000")
        self.register("alice", source="127.6.0.1").close()
        # Four wrong passwords for alice, each from its own address.
        for source in addresses(7, FAILURES_MAX - 1):
            client = self.client(source)
            client.expect(r"^NAME\?$")
            client.send("alice")
            client.expect(r"^PASSWORD\?$")
            client.send("a wrong password")
            client.expect(r"^ERR wrong password$")
            client.close()
        # Then many addresses with a bad token at the PASSWORD? of names nobody has,
        # and an unknown token of the right form: no hashing, each cheap.
        unknown = "/token " + "0" * 64
        churn(self.addr, addresses(8, self.CHURN), lambda i: ("nobody%d\n/token zz\n%s\n" % (i, unknown)).encode(),
              lambda got: b"ERR unknown token" in got)
        # The fifth wrong password for alice still locks her name.
        client = self.client("127.6.0.2")
        client.expect(r"^NAME\?$")
        client.send("alice")
        client.expect(r"^PASSWORD\?$")
        client.send("a wrong password")
        self.assertEqual(client.line(), LOCKED)
        self.assertEqual(client.expect_closed(), [])
        other = self.client("127.6.0.3")
        other.expect(r"^NAME\?$")
        other.send("alice")
        self.assertEqual(other.expect_closed(), [LOCKED])
        self.assertIn("failed login: wrong password", daemon.stderr())


class TestPendingPerAddress(ChatTestCase):
    # The default of chat-max-pending-per-address (docs/chat.md).
    PER_ADDRESS = 16

    def test_one_address_cannot_hold_every_login_slot(self):
        self.start()
        stuck = [self.client("127.9.0.1") for _ in range(self.PER_ADDRESS)]
        for client in stuck:
            client.expect(r"^NAME\?$")
        refused = self.client("127.9.0.1")
        self.assertEqual(refused.line(), BUSY)
        self.assertEqual(refused.expect_closed(), [])
        # Another address logs in as usual.
        self.register("alice", source="127.9.0.2")
        # A slot of the address comes back when one of its logins ends.
        stuck[0].send("/quit")
        self.assertEqual(stuck[0].expect_closed(), ["BYE"])
        again = self.client("127.9.0.1")
        again.expect(r"^NAME\?$")

    def test_the_limit_is_a_setting(self):
        self.start("--chat-max-pending-per-address", "2")
        for _ in range(2):
            self.client("127.9.1.1").expect(r"^NAME\?$")
        self.assertEqual(self.client("127.9.1.1").line(), BUSY)


class TestNamesAndText(ChatTestCase):

    def test_new_names_start_with_a_letter_and_keep_punctuation_apart(self):
        self.start()
        client = self.client()
        client.expect(r"^NAME\?$")
        for bad in ("-alice", ".alice", "_alice", "9lives", "alice-", "alice.", "a..b", "a-_b"):
            client.send(bad)
            client.expect(r"^ERR invalid name")
            client.expect(r"^NAME\?$")
        for good in ("A.b-c_9", "x", "burst0_1", "o.k"):
            client.send(good)
            client.expect(r"^PASSWORD\?$")
            client.send("/name " + "x" * 33)
            client.expect(r"^ERR invalid name")
            client.expect(r"^PASSWORD\?$")
            client.send("/quit")
            client.expect_closed()
            client = self.client()
            client.expect(r"^NAME\?$")

    def test_bidi_controls_line_separators_and_bom_are_refused_in_messages(self):
        self.start()
        alice = self.register("alice")
        bob = self.register("bob")
        for bad in ("evil \u202egnp.exe", "rlm \u200f", "isolate \u2067x\u2069",
                    "line\u2028break", "para\u2029graph", "\ufeffbom", "alm \u061c"):
            alice.send(bad)
            self.assertEqual([t for t in alice.barrier() if not t.startswith("JOIN ")], ["ERR invisible formatting character (bidi "
                                               "control, line separator or byte order mark)"])
        alice.send("plain caf\u00e9 \u05e9\u05dc\u05d5\u05dd is fine")
        self.assertEqual(bob.expect(r"^MSG ").split(" ", 3)[3],
                         "plain caf\u00e9 \u05e9\u05dc\u05d5\u05dd is fine")
        self.assertEqual([t for t in bob.barrier() if t.startswith("MSG")], [])
        # Refused, so not stored either: the history holds the one message that passed.
        alice.send("/history 10")
        history = [t for t in alice.until(r"^OK ") if t.startswith("HIST")]
        self.assertEqual(len(history), 1, history)


if __name__ == "__main__":
    echotest.main()
