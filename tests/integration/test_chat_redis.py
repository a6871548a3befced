#!/usr/bin/env python3
"""Several echod nodes sharing one chat through Redis (issue 12, docs/chat.md
"Several nodes"), as users see it.

Each test starts one redis-server (tests/lib/redistest.py: a free 127.0.0.1
port, no persistence unless a test saves) and three echod nodes, A, B and C,
each with its own state directory and `--chat-backend redis://...`, and
reads each node's chat port back from its "listening chat/tcp" line. Every
client binds its own loopback source address (127.0.x.y) before it connects,
so identification by address is exercised across nodes.

Nothing sleeps where a line can be awaited: a message's fate is either an
ERR line at its sender or its MSG line at the others, and the tests wait for
one of those. Polling, with an upper-bound deadline, is left for what sends
no line: chat coming back after Redis does (a message retried until it is
accepted) and a killed node's user leaving /who (the presence TTL).
Deadlines are upper bounds for a loaded 2-core machine, never expectations.

Logins cost an argon2id hash each (0.1-0.5 s here): each test registers at
most three users and logs the others in with their tokens.
"""

import os
import re
import select
import signal
import tempfile
import time

import echotest
import redistest
from test_chat import (ChatTestCase, Client, HIST_RE, MSG_RE, PASSWORD, TOKEN_RE, WAIT,
                       new_address)

# Presence: a node refreshes its set of online users; Redis expires it after
# this long when the node is gone (docs/chat.md, "Several nodes").
PRESENCE_TTL = 15.0
MESSAGES = 1000
# What a node says in STATUS= while its store cannot be reached
# (chat_status() in src/daemon/chat/session/chat_service.c).
UNAVAILABLE_STATUS = re.compile(r"chat: .*\(store unavailable\)")
# What the sender of a message gets while Redis is away (src/daemon/chat/session/chat_session.c).
NOT_SENT = r"^ERR not sent: "
# Node flags: no flood control in the way of 1000 messages.
NODE_ARGS = ("--chat-rate", "100000", "--chat-burst", "100000")
# ECHOD_REDIS_TEST_DRY=1 checks this file itself before the backend exists:
# the "three nodes" are one echod on SQLite, and the tests that need Redis's
# failures (restart, killed node, Redis absent) are skipped. Never in CI.
DRY = os.environ.get("ECHOD_REDIS_TEST_DRY") == "1"


def unused_port():
    """A 127.0.0.1 port nobody listens on (for a Redis that is not there)."""
    port = echotest.free_port()
    assert echotest.connection_refused(("127.0.0.1", port))
    return port


class RedisChatTestCase(ChatTestCase):
    """One redis-server and up to three nodes; clients are read with pump()."""

    def setUp(self):
        super().setUp()
        self.redis = redistest.RedisServer()
        # After tearDown: the nodes stop (exit 0, no sanitizer report) while Redis is up.
        self.addCleanup(self.redis.close)

    def node(self, url=None, *extra):
        """An echod node on the shared Redis, with a state directory of its own."""
        if DRY:
            if not self.daemons:
                daemon = self.start(*NODE_ARGS)
                daemon.chat = self.addr
            return self.daemons[0]
        state = tempfile.mkdtemp(prefix="node-", dir=self.state_dir)
        daemon = self.start("--chat-backend", url or self.redis.url, *(NODE_ARGS + extra),
                            state_dir=state)
        daemon.chat = self.addr
        return daemon

    def nodes(self, count=3):
        return [self.node() for _ in range(count)]

    def on(self, node, source=None):
        client = Client(node.chat, source)
        self.clients.append(client)
        client.log = []
        client.name = client.source
        return client

    # -- logging in, tolerating a node that has not reached Redis yet -------

    def login_on(self, node, name, password=PASSWORD, source=None, token=None,
                 expect_first=None, deadline=WAIT):
        """Register or log in on node (password, or token at the first prompt).

        A node may answer "ERR unavailable" until its connection to Redis is up
        (right after start, or after Redis came back); the login then starts
        again on a new connection from the same address, until the deadline."""
        source = source or new_address()
        end = time.monotonic() + deadline
        while True:
            client = self.on(node, source)
            try:
                first = client.line()
                if expect_first and not first.startswith("ERR unavailable"):
                    self.assertRegex(first, expect_first)
                self._answer(client, first, name, password, token)
                client.name = name
                return client
            except _Unavailable as e:
                client.close()
                self.clients.remove(client)
                self.assertLess(time.monotonic(), end,
                                "chat stayed unavailable on %s: %s" % (node.chat, e))
                time.sleep(0.2)

    def _answer(self, client, line, name, password, token):
        while True:
            if line.startswith("ERR unavailable"):
                raise _Unavailable(line)
            if line == "NAME?" or line == "PASSWORD?":
                if token:
                    client.send("/token " + token)
                elif line == "NAME?":
                    client.send(name)
                else:
                    client.send(password)
            elif line.startswith("HELLO "):
                if not token and line != "HELLO " + name:
                    self.assertEqual(client.line(), "PASSWORD?")
                    client.send("/name " + name)
            elif TOKEN_RE.match(line):
                client.token = TOKEN_RE.match(line).group(1)
                self.assertEqual(client.line(), "OK welcome, " + name)
                client.history = [t for t in client.barrier() if t.startswith("HIST ")]
                return
            else:
                self.fail("unexpected %r while logging in %s" % (line, name))
            line = client.line()

    # -- reading many clients at once ---------------------------------------

    def pump(self, clients, until, timeout=WAIT, what="the expected lines"):
        """Read every client's lines into client.log until until() is true."""
        deadline = time.monotonic() + timeout
        while True:
            for client in clients:
                while b"\n" in client.buffer:
                    raw, _, client.buffer = client.buffer.partition(b"\n")
                    client.log.append(raw.decode("utf-8"))
            if until():
                return
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, "no %s within %ss; last lines: %r" % (
                what, timeout, {c.name: c.log[-5:] for c in clients}))
            socks = [c.sock for c in clients if not c.closed]
            ready, _, _ = select.select(socks, [], [], min(left, 1.0))
            for client in clients:
                if client.sock in ready:
                    try:
                        data = client.sock.recv(1 << 16)
                    except ConnectionResetError:
                        data = b""
                    if not data:
                        client.closed = True
                        self.fail("%s was disconnected; last lines %r" % (client.name,
                                                                         client.log[-5:]))
                    client.buffer += data

    def wait_line(self, clients, client, pattern, since=0, timeout=WAIT):
        """The first line of client.log[since:] matching pattern (reading all clients)."""
        found = []

        def match():
            for text in client.log[since:]:
                if re.match(pattern, text):
                    found.append(text)
                    return True
            return False
        self.pump(clients, match, timeout, "%r at %s" % (pattern, client.name))
        return found[0]

    def who(self, clients, client):
        """The names in the answer to /who, as a sorted list."""
        mark = len(client.log)
        client.send("/who")
        return sorted(self.wait_line(clients, client, r"^WHO( |$)", mark).split()[1:])

    def barrier(self, clients):
        """Every line the nodes queued for these clients before now (a /who each)."""
        marks = [len(c.log) for c in clients]
        for client in clients:
            client.send("/who")
        for client, mark in zip(clients, marks):
            self.wait_line(clients, client, r"^WHO( |$)", mark)

    @staticmethod
    def msgs(client):
        """(sender, text) of every MSG line the client got."""
        out = []
        for text in client.log:
            m = MSG_RE.match(text)
            if m:
                out.append((m.group(2), m.group(3)))
        return out


class _Unavailable(Exception):
    pass


class TestLoginAcrossNodes(RedisChatTestCase):

    def test_register_on_a_password_on_b_token_on_c_and_hello_by_address(self):
        a, b, c = self.nodes()
        source = new_address()
        alice = self.login_on(a, "alice", source=source, expect_first=r"^NAME\?$")
        # The same password on B, from an address nobody used: NAME?, then the password.
        on_b = self.login_on(b, "alice", expect_first=r"^NAME\?$")
        self.assertNotEqual(on_b.token, alice.token, "a password login makes a fresh session")
        # The token from A on C: the same token back.
        on_c = self.login_on(c, "alice", token=alice.token)
        self.assertEqual(on_c.token, alice.token, "a token login answers TOKEN with the same token")
        # The address alice logged in from on A is known on B.
        again = self.on(b, source)
        self.assertEqual(again.line(), "HELLO alice")
        self.assertEqual(again.line(), "PASSWORD?")
        again.send("/quit")
        self.assertEqual(again.expect_closed(), ["BYE"])
        # One user, three connections on three nodes: WHO names her once, on every node.
        room = [alice, on_b, on_c]
        for client in room:
            self.assertEqual(self.who(room, client), ["alice"])
        # A wrong password on another node is refused there too.
        wrong = self.on(c)
        wrong.expect(r"^NAME\?$")
        wrong.send("alice")
        wrong.expect(r"^PASSWORD\?$")
        wrong.send("not her password")
        wrong.expect(r"^ERR wrong password$")

    def test_logout_and_a_password_change_end_the_sessions_on_every_node(self):
        a, b = self.nodes(2)
        alice = self.login_on(a, "alice")
        same_on_b = self.login_on(b, "alice", token=alice.token)  # alice's session, on B
        own_on_b = self.login_on(b, "alice")                      # a session of its own
        also_on_a = self.login_on(a, "alice")
        alice.send("/logout")
        self.assertIn("BYE logged out", alice.expect_closed())
        self.assertIn("BYE session ended: logged out on another connection",
                      same_on_b.expect_closed())
        # /password on B ends every other session, on A too.
        own_on_b.send("/password a brand new password")
        own_on_b.expect(r"^TOKEN ")
        own_on_b.expect(r"^OK password changed")
        self.assertIn("BYE session ended: the password was changed", also_on_a.expect_closed())
        own_on_b.send("/who")
        self.assertEqual(own_on_b.expect(r"^WHO"), "WHO alice")


class TestRelayAcrossNodes(RedisChatTestCase):

    def test_messages_join_leave_who_and_history_across_three_nodes(self):
        nodes = self.nodes()
        names = ["ann", "ben", "cat"]
        users = []
        for node, name in zip(nodes, names):
            users.append(self.login_on(node, name))
            # Everyone already online sees the newcomer's JOIN, whatever the node.
            for earlier in users[:-1]:
                self.wait_line(users, earlier, r"^JOIN %s$" % name)
        for user in users:
            self.assertEqual(self.who(users, user), names, "/who on %s" % user.name)

        # 1000 messages, the three senders interleaved; each user gets every
        # message of the two others once, in its sender's order, and none of its own.
        sent = {name: [] for name in names}
        for k in range(MESSAGES):
            user = users[k % 3]
            text = "%s %d" % (user.name, len(sent[user.name]))
            sent[user.name].append(text)
            user.send(text)

        def everything_arrived():
            return all(len(self.msgs(u)) >= MESSAGES - len(sent[u.name]) for u in users)
        self.pump(users, everything_arrived, what="every message at every other user")
        self.barrier(users)
        for user in users:
            got = self.msgs(user)
            self.assertEqual(len(got), MESSAGES - len(sent[user.name]),
                             "%s got a message twice or too many" % user.name)
            for sender in names:
                texts = [t for s, t in got if s == sender]
                if sender == user.name:
                    self.assertEqual(texts, [], "%s got its own messages back" % sender)
                else:
                    self.assertEqual(texts, sent[sender], "%s got %s's messages out of order, "
                                     "twice or not at all" % (user.name, sender))
            self.assertEqual([t for t in user.log if t.startswith("ERR")], [])

        # /history from a fresh connection on the third node: the 1000 messages,
        # each sender's in order (the stream's order across senders is Redis's).
        reader = self.login_on(nodes[2], "ann", token=users[0].token)
        room = users + [reader]
        mark = len(reader.log)
        reader.send("/history %d" % MESSAGES)
        ok = self.wait_line(room, reader, r"^OK \d+ messages?$", mark)
        self.assertEqual(ok, "OK %d messages" % MESSAGES)
        history = [HIST_RE.match(t).groups()[1:] for t in reader.log[mark:]
                   if t.startswith("HIST ")]
        self.assertEqual(len(history), MESSAGES)
        for sender in names:
            self.assertEqual([t for s, t in history if s == sender], sent[sender])
        # ann's second connection is no arrival: no JOIN anywhere for it.
        self.barrier(room)
        self.assertEqual([t for u in users for t in u.log if t == "JOIN ann"], [])

        # LEAVE crosses nodes: cat quits on C; ann (A) and ben (B) see it.
        marks = [len(u.log) for u in users]
        users[2].send("/quit")
        self.assertEqual(users[2].expect_closed()[-1:], ["BYE"])
        users[2].closed = True
        room = [users[0], users[1], reader]
        for user, mark in zip(users[:2], marks):
            self.wait_line(room, user, r"^LEAVE cat$", mark)
        for user in room:
            self.assertEqual(self.who(room, user), ["ann", "ben"])
        # And a message after it reaches the two connections of ann, on A and on C.
        users[1].send("after cat left")
        for user in (users[0], reader):
            self.pump(room, lambda u=user: ("ben", "after cat left") in self.msgs(u))


class TestRedisRestart(RedisChatTestCase):

    def setUp(self):
        if DRY:
            self.skipTest("ECHOD_REDIS_TEST_DRY: needs the Redis backend")
        super().setUp()

    def test_messages_are_refused_while_redis_is_down_and_chat_comes_back(self):
        self.restart_redis(save=True)

    def test_a_redis_that_comes_back_empty_gets_the_nodes_presence_again(self):
        # No persistence: users, sessions and history are gone, but the users
        # logged in stay, talk on, and every node writes its presence again.
        self.restart_redis(save=False)

    def test_logout_while_redis_is_down_is_refused_not_pretended(self):
        a = self.node()
        alice = self.login_on(a, "alice")
        room = [alice]
        self.redis.stop(save=True)
        mark = len(alice.log)
        alice.send("/logout")
        # The session cannot be ended now: saying "BYE logged out" would be false.
        self.assertRegex(self.wait_line(room, alice, r"^(BYE|ERR)", mark),
                         r"^ERR not logged out: the chat store cannot be reached")
        self.redis.start()
        # Once the node is back on Redis, /logout ends the session for real.
        deadline = time.monotonic() + WAIT
        while True:
            mark = len(alice.log)
            alice.send("/logout")
            line = self.wait_line(room, alice, r"^(BYE|ERR)", mark)
            if line == "BYE logged out":
                break
            self.assertRegex(line, r"^ERR not logged out: ")
            self.assertLess(time.monotonic(), deadline, "chat did not come back")
            time.sleep(0.2)
        again = self.on(a)
        again.send("/token " + alice.token)
        self.wait_line([again], again, r"^ERR unknown token$")

    def restart_redis(self, save):
        a, b, c = nodes = self.nodes()
        users = [self.login_on(n, name) for n, name in zip(nodes, ("ann", "ben", "cat"))]
        self.barrier(users)
        fates = {}  # text -> "sent" (delivered, no ERR) or "refused" (ERR at the sender)

        def say(user, text, deadline=WAIT):
            """Send one message and wait for its fate: ERR at the sender, or
            its MSG at every other user. Returns "sent" or "refused"."""
            mark = len(user.log)
            others = [u for u in users if u is not user]
            user.send(text)

            def decided():
                if any(t.startswith("ERR") for t in user.log[mark:]):
                    return True
                return all((user.name, text) in self.msgs(o) for o in others)
            self.pump(users, decided, deadline, "ERR or delivery of %r" % text)
            refused = any(t.startswith("ERR") for t in user.log[mark:])
            fates[text] = "refused" if refused else "sent"
            return fates[text]

        self.assertEqual(say(users[0], "before the restart"), "sent")

        # Redis goes away (with save, its data kept, as a Redis with persistence would).
        self.redis.stop(save=save)
        # Every message now gets an ERR, never silence, on every node.
        for user in users:
            for i in range(2):
                self.assertEqual(say(user, "%s while down %d" % (user.name, i)), "refused")
        refused_lines = [t for u in users for t in u.log if t.startswith("ERR")]
        self.assertTrue(all(re.match(NOT_SENT, t) for t in refused_lines), refused_lines)
        # Echo does not depend on Redis.
        for node in nodes:
            with echotest.connect(node.address("tcp", "echo")) as s:
                s.sendall(b"echo while redis is down\n")
                self.assertEqual(echotest.recv_exactly(s, 25), b"echo while redis is down\n")

        # Redis is back on the same port: chat resumes by itself. Retry a message
        # from each node until it is accepted (the backoff is 0.1 s up to 5 s).
        self.redis.start()
        # From here on no JOIN: nobody arrived, whether Redis kept its data or not.
        restarted = {user.name: len(user.log) for user in users}
        for user in users:
            deadline = time.monotonic() + WAIT
            k = 0
            while say(user, "%s back %d" % (user.name, k)) != "sent":
                self.assertLess(time.monotonic(), deadline,
                                "chat did not come back on %s's node" % user.name)
                time.sleep(0.2)
                k += 1
        # Then everyone talks as before.
        for user in users:
            self.assertEqual(say(user, "%s after" % user.name), "sent")

        # Every message that got no ERR reached every other user exactly once;
        # no refused one reached anybody.
        self.barrier(users)
        for user in users:
            got = self.msgs(user)
            for text, fate in fates.items():
                sender = text.split()[0] if text != "before the restart" else "ann"
                count = got.count((sender, text))
                if sender == user.name:
                    self.assertEqual(count, 0, "%s got its own %r" % (user.name, text))
                elif fate == "sent":
                    self.assertEqual(count, 1, "%s got %r %d times" % (user.name, text, count))
                else:
                    self.assertEqual(count, 0, "%r was refused, yet %s got it" % (text, user.name))
        for user in users:
            self.assertEqual(self.who(users, user), ["ann", "ben", "cat"])
        joins = {u.name: [t for t in u.log[restarted[u.name]:] if t.startswith("JOIN ")]
                 for u in users}
        self.assertEqual(joins, {u.name: [] for u in users},
                         "JOIN lines after Redis came back (save=%s)" % save)


class TestNodeKilled(RedisChatTestCase):

    def setUp(self):
        if DRY:
            self.skipTest("ECHOD_REDIS_TEST_DRY: needs the Redis backend")
        super().setUp()

    def test_survivors_carry_on_and_the_dead_nodes_user_leaves_who(self):
        a, b, c = nodes = self.nodes()
        users = [self.login_on(n, name) for n, name in zip(nodes, ("ann", "ben", "cat"))]
        self.assertEqual(self.who(users, users[0]), ["ann", "ben", "cat"])
        c.proc.send_signal(signal.SIGKILL)
        c.proc.wait()
        killed = time.monotonic()
        c.checked = True  # no clean exit to check
        c.drain_stop.set()
        users[2].close()
        users[2].closed = True
        survivors = users[:2]
        users[0].send("after the kill")
        self.pump(survivors, lambda: ("ann", "after the kill") in self.msgs(users[1]))
        users[1].send("ben too")
        self.pump(survivors, lambda: ("ben", "ben too") in self.msgs(users[0]))
        # cat's node refreshes its presence no more: within the TTL (allowing
        # twice that on a loaded machine) /who on the survivors no longer names cat.
        for user in survivors:
            while "cat" in self.who(survivors, user):
                self.assertLess(time.monotonic() - killed, 2 * PRESENCE_TTL,
                                "cat is still online %.0f s after its node was killed"
                                % (time.monotonic() - killed))
                time.sleep(0.5)
            self.assertEqual(self.who(survivors, user), ["ann", "ben"])
        self.assertEqual([m for u in survivors for m in self.msgs(u) if m[0] == u.name], [])


class TestUnixSocketAndDatabases(RedisChatTestCase):

    def setUp(self):
        if DRY:
            self.skipTest("ECHOD_REDIS_TEST_DRY: needs the Redis backend")
        super().setUp()
        self.redis.close()
        self.redis = redistest.RedisServer(unix=True)
        self.addCleanup(self.redis.close)

    def test_unix_and_tcp_nodes_share_database_0_and_database_1_is_another_chat(self):
        tcp = self.node(self.redis.url)
        unix = self.node(self.redis.unix_url)
        other = self.node(self.redis.url + "/1")
        source = new_address()
        alice = self.login_on(tcp, "alice", source=source)
        # Through the unix socket, the same chat: her address is known there.
        on_unix = self.login_on(unix, "alice", source=source, expect_first=r"^HELLO alice$")
        room = [alice, on_unix]
        alice.send("through tcp")
        self.pump(room, lambda: ("alice", "through tcp") in self.msgs(on_unix))
        on_unix.send("through the unix socket")
        self.pump(room, lambda: ("alice", "through the unix socket") in self.msgs(alice))
        # Database 1 is another chat: nobody is known there.
        stranger = self.on(other, source)
        self.assertEqual(stranger.line(), "NAME?")
        stranger.send("/token " + alice.token)
        stranger.expect(r"^ERR unknown token$")


class TestRedisAbsentAtStart(RedisChatTestCase):

    def setUp(self):
        if DRY:
            self.skipTest("ECHOD_REDIS_TEST_DRY: needs the Redis backend")
        super().setUp()

    def test_echo_works_chat_says_unavailable_then_comes_back(self):
        port = unused_port()
        node = self.node("redis://127.0.0.1:%d" % port)
        # READY=1 came (self.node waited for it); the status says why chat is out
        # (in the STATUS= sent with READY=1, or in one of the next ones).
        def statuses():
            found = [f.get("STATUS", "") for f in node.notify.messages]
            found += [line[len("STATUS="):] for m in node.notify_log
                      for line in m.split("\n") if line.startswith("STATUS=")]
            return found
        with node.notified:
            said = node.notified.wait_for(
                lambda: any(UNAVAILABLE_STATUS.search(s) for s in statuses()), WAIT)
        self.assertTrue(said, "no STATUS= saying the chat store is unavailable: %r" % statuses())
        with echotest.connect(node.address("tcp", "echo")) as s:
            s.sendall(b"echo without redis\n")
            self.assertEqual(echotest.recv_exactly(s, 19), b"echo without redis\n")
        # A login gets a line starting "ERR unavailable", at connect or at a prompt.
        client = self.on(node)
        while True:
            line = client.line()
            if line.startswith("ERR unavailable"):
                break
            self.assertRegex(line, r"^(NAME\?|PASSWORD\?)$")
            client.send("alice" if line == "NAME?" else PASSWORD)
        client.close()
        # Redis appears on that port: the node connects by itself and chat works.
        late = redistest.RedisServer(port=port)
        self.addCleanup(late.close)
        alice = self.login_on(node, "alice", deadline=WAIT)
        self.assertEqual(self.who([alice], alice), ["alice"])


class TestHistoryAtLogin(RedisChatTestCase):

    def setUp(self):
        if DRY:
            self.skipTest("ECHOD_REDIS_TEST_DRY: needs the Redis backend")
        super().setUp()

    def test_a_message_relayed_while_the_login_history_is_read_comes_once_in_order(self):
        # Node A reaches Redis through a proxy that can hold its history read.
        proxy = redistest.HoldingProxy((redistest.RedisServer.HOST, self.redis.port))
        self.addCleanup(proxy.close)
        a = self.node(proxy.url)
        b = self.node()
        ann = self.login_on(b, "ann")
        ben = self.login_on(b, "ben")
        carol = self.login_on(a, "carol")
        room = [ann, ben, carol]
        ann.send("older")
        self.pump(room, lambda: ("ann", "older") in self.msgs(carol))
        carol.send("/quit")
        self.pump(room, lambda: "BYE" in carol.log)
        carol.closed = True

        # carol logs in again; the history read of her login waits at the proxy
        # while ann's next message is stored and relayed.
        proxy.arm(b"XREVRANGE")
        again = self.on(a)
        room = [ann, ben, again]
        again.send("/token " + carol.token)
        self.wait_line(room, again, r"^OK welcome, carol$")
        self.assertTrue(proxy.held.wait(WAIT), "carol's login read no history")
        ann.send("while the history is read")
        self.pump(room, lambda: ("ann", "while the history is read") in self.msgs(ben))
        proxy.release()
        # A last message: whatever node A relays of the one before comes first.
        ann.send("last")
        self.pump(room, lambda: ("ann", "last") in self.msgs(again))
        lines = [t for t in again.log if t.startswith(("HIST ", "MSG "))]
        texts = [(t.split(" ", 1)[0], t.split(" ", 3)[3]) for t in lines]
        self.assertEqual([t for _, t in texts].count("while the history is read"), 1,
                         "carol got it twice: %r" % lines)
        self.assertEqual([t for _, t in texts][-3:],
                         ["older", "while the history is read", "last"], lines)



class TestPasswordChange(RedisChatTestCase):

    def test_a_revoke_lost_after_the_new_password_is_stored_is_tried_again_until_done(self):
        """The new hash is stored, then Redis goes (the proxy holds the connection that
        carries the revoke, until the health check drops it): the old sessions must
        still end once Redis is back, not only be logged as not ended."""
        if DRY:
            self.skipTest("ECHOD_REDIS_TEST_DRY: needs the Redis backend")
        proxy = redistest.HoldingProxy((redistest.RedisServer.HOST, self.redis.port))
        self.addCleanup(proxy.close)
        a = self.node(proxy.url)
        alice = self.login_on(a, "alice")
        old_token = alice.token
        # The script that ends every session of a user (redis_script_session_revoke_user).
        proxy.arm(b"'echod:sessions:' .. ARGV[1])) do")
        alice.send("/password a brand new password")
        self.assertTrue(proxy.held.wait(WAIT), "the revoke never went to Redis")
        # The session created after it went on the same held connection: it fails too.
        alice.expect(r"^ERR password changed, but no new session")
        end = time.monotonic() + WAIT
        while True:
            client = self.on(a)
            first = client.line()
            if not first.startswith("ERR unavailable"):
                break
            client.close()
            self.clients.remove(client)
            self.assertLess(time.monotonic(), end, "node A never reached Redis again")
            time.sleep(0.2)
        if first.startswith("HELLO "):
            self.assertEqual(client.line(), "PASSWORD?")
        client.send("/token " + old_token)
        client.expect(r"^ERR unknown token$")

if __name__ == "__main__":
    redistest.require_redis()
    echotest.main()
