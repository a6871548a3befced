#!/usr/bin/env python3
"""The Redis chat backend when Redis, or what passes for it, misbehaves
(issue 23 items 3-5; docs/chat.md, "Several nodes", "When something fails"):

- a subscriber connection cut on Redis's side only (a NAT or firewall that
  forgot it: the node's socket stays open, nothing comes back) is noticed
  within the stated bound, with one warning, the chat refusing meanwhile,
  then coming back with every accepted message delivered once;
- malformed replies to SUBSCRIBE from a fake Redis cost the chat, never the
  daemon: echo and the control socket keep serving;
- a Redis stopped (SIGSTOP) while messages are in flight, then continued:
  no message its sender was told `ERR not sent` reaches anyone or the
  history.

The nodes and clients are those of test_chat_redis.py (one redis-server of
the test's own, on a free loopback port, no persistence).
"""

import re
import signal
import tempfile
import time

import echotest
import redistest
from test_chat import HIST_RE, WAIT
from test_chat_redis import DRY, RedisChatTestCase
from test_control import echoctl

# docs/chat.md: a subscriber (or command connection) that stops answering is
# dropped within this many seconds of going silent (a PING every second,
# 5 s for its answer, on the one-second health timer).
DETECTION_BOUND = 10.0
NOT_SENT = r"^ERR not sent: "
# The one warning of an outage (connection_lost() in src/daemon/chat/redis_backend.c).
SUBSCRIBER_DOWN = re.compile(r"chat: redis \S+ unavailable \(subscriber connection: ([^)]*)\)")


class FaultTestCase(RedisChatTestCase):

    def setUp(self):
        if DRY:
            self.skipTest("ECHOD_REDIS_TEST_DRY: needs the Redis backend")
        super().setUp()

    def say(self, room, user, text):
        """Send text, then /who: every line of the message's fate comes before WHO's answer
        (a connection takes no line while it waits for the store). Returns True if the
        message was accepted (no ERR not sent)."""
        mark = len(user.log)
        user.send(text)
        user.send("/who")
        self.wait_line(room, user, r"^(WHO( |$)|ERR unavailable: cannot list)", mark)
        return not any(re.match(NOT_SENT, t) for t in user.log[mark:])

    def say_until(self, room, user, prefix, k, accepted, fates, failure):
        """Say "PREFIX K", "PREFIX K+1", ... until one is accepted (or refused, as
        accepted says), within WAIT; records each fate and returns the next K."""
        deadline = time.monotonic() + WAIT
        while True:
            text = "%s %d" % (prefix, k)
            k += 1
            fates[(user.name, text)] = self.say(room, user, text)
            if fates[(user.name, text)] == accepted:
                return k
            self.assertLess(time.monotonic(), deadline, failure)
            if not accepted:
                continue
            time.sleep(0.2)  # the backoff: nothing to wait on but time

    def all_delivered(self, room, fates, receivers=None):
        """Wait until every accepted message reached every other user (of receivers,
        each with a name of its own); then check each did exactly once, in its
        sender's order, and no refused one did."""
        receivers = receivers or room

        def arrived():
            for user in receivers:
                got = self.msgs(user)
                for (sender, text), accepted in fates.items():
                    if accepted and sender != user.name and (sender, text) not in got:
                        return False
            return True
        self.pump(room, arrived, what="every accepted message at every other user")
        self.barrier(room)
        for user in receivers:
            got = self.msgs(user)
            for (sender, text), accepted in fates.items():
                if sender == user.name:
                    continue
                self.assertEqual(got.count((sender, text)), 1 if accepted else 0,
                                 "%s got %r from %s %d times (%s)" % (
                                     user.name, text, sender, got.count((sender, text)),
                                     "accepted" if accepted else "refused"))
            for sender in {s for s, _ in fates}:
                order = [t for (s, t), ok in fates.items() if s == sender and ok]
                self.assertEqual([t for s, t in got if s == sender and (s, t) in fates],
                                 order if sender != user.name else [])


class TestSubscriberCutSilently(FaultTestCase):

    def test_a_subscriber_cut_on_redis_side_is_noticed_and_chat_recovers_losing_nothing(self):
        proxy = redistest.HoldingProxy((redistest.RedisServer.HOST, self.redis.port))
        self.addCleanup(proxy.close)
        a = self.node(proxy.url)
        b = self.node()
        ann = self.login_on(a, "ann")
        cat = self.login_on(a, "cat")
        bob = self.login_on(b, "bob")
        room = [ann, cat, bob]
        self.barrier(room)
        fates = {}

        # The subscriber's Redis side goes, and every new subscriber's with it.
        proxy.blackhole(b"SUBSCRIBE")
        self.assertTrue(proxy.cut.wait(WAIT), "node A has no subscriber through the proxy")
        cut = time.monotonic()
        # Messages go on from both nodes until node A says its subscriber is gone.
        k = 0
        while not SUBSCRIBER_DOWN.search(a.stderr()):
            self.assertLess(time.monotonic() - cut, DETECTION_BOUND,
                            "no warning from node A %.0f s after its subscriber was cut: %s"
                            % (time.monotonic() - cut, a.stderr()[-2000:]))
            for user in (ann, bob):
                text = "%s %d" % (user.name, k)
                fates[(user.name, text)] = self.say(room, user, text)
            k += 1
        detected = time.monotonic() - cut
        print("detected %.1f s after the cut" % detected)
        self.assertRegex(SUBSCRIBER_DOWN.search(a.stderr()).group(1), r"no answer|unconfirmed")
        # While no subscriber of A's is confirmed, its chat refuses: an ERR, never silence.
        k = self.say_until(room, ann, "ann refused", k, False, fates, "node A never refused")
        # The way to Redis is whole again: node A comes back by itself.
        proxy.restore()
        self.say_until(room, ann, "ann back", k, True, fates, "node A's chat did not come back")
        for user in (ann, bob):
            text = "%s after" % user.name
            fates[(user.name, text)] = self.say(room, user, text)
            self.assertTrue(fates[(user.name, text)])
        self.all_delivered(room, fates)
        self.assertEqual(len(SUBSCRIBER_DOWN.findall(a.stderr())), 1, a.stderr()[-3000:])
        self.assertIn("is back", a.stderr())


# Replies to SUBSCRIBE that hiredis 0.14.1's subscribe mode asserts on, and
# others a proxy or another server could send; each node gets three, then a
# valid confirmation (so the backoff between them stays short).
MALFORMED = [
    [b"*2\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n", b"*0\r\n", b"*1\r\n$9\r\nsubscribe\r\n"],
    [b"*2\r\n:1\r\n:2\r\n", b"-ERR unknown command 'SUBSCRIBE'\r\n",
     b"*3\r\n$9\r\nsubscribe\r\n$5\r\nother\r\n:1\r\n"],
    [b"*100000000\r\n", b"$10000000\r\n" + b"x" * 100000, b"HTTP/1.1 400 Bad Request\r\n\r\n",
     b"*1\r\n" * 12 + b":1\r\n"],
]
CONFIRMED = b"*3\r\n$9\r\nsubscribe\r\n$12\r\necho" b"d:chat:0\r\n:1\r\n"


class TestMalformedSubscribeReplies(FaultTestCase):

    def test_malformed_subscribe_replies_cost_the_chat_not_echo_or_control(self):
        nodes = []
        for replies in MALFORMED:
            fake = redistest.FakeRedis(replies + [CONFIRMED])
            self.addCleanup(fake.close)
            control = tempfile.mkdtemp(prefix="control-", dir=self.state_dir) + "/control"
            nodes.append((self.node(fake.url, "--control", control), fake, len(replies)))
        for node, fake, count in nodes:
            # Every malformed reply was sent, and the node subscribed again after the last.
            self.assertTrue(fake.wait_subscribes(count + 1),
                            "node stopped subscribing after %d: %s" % (fake.subscribes,
                                                                       node.stderr()[-2000:]))
            self.wait_log(node, "is back")
            self.assertIsNone(node.proc.poll(), node.stderr()[-3000:])
            warnings = SUBSCRIBER_DOWN.findall(node.stderr())
            self.assertEqual(len(warnings), 1, node.stderr()[-3000:])
            with echotest.connect(node.address("tcp", "echo")) as s:
                s.sendall(b"still echoing\n")
                self.assertEqual(echotest.recv_exactly(s, 14), b"still echoing\n")
            status = echoctl(node, "status")
            self.assertEqual(status.returncode, 0, status.stderr)
            self.assertIn("chat", status.stdout)


class TestRedisStoppedThenContinued(FaultTestCase):

    def test_no_message_answered_not_sent_reaches_anyone_after_redis_continues(self):
        a, b = self.node(), self.node()
        ann = self.login_on(a, "ann")
        bob = self.login_on(b, "bob")
        # A connection waits for the store before its next line: one message in
        # flight each, so several connections (ann's, by token) put several in flight.
        senders = [ann] + [self.login_on(a, "ann", token=ann.token) for _ in range(4)]
        room = senders + [bob]
        fates = {("ann", "before"): self.say(room, ann, "before")}
        self.assertTrue(fates[("ann", "before")])

        self.redis.proc.send_signal(signal.SIGSTOP)
        self.addCleanup(lambda: self.redis.proc and self.redis.proc.send_signal(signal.SIGCONT))
        # Messages in flight while Redis is stopped: each gets its answer (an ERR) in time.
        marks = [len(u.log) for u in senders]
        texts = []
        for i, user in enumerate(senders):
            for j in range(2):
                texts.append("stopped %d.%d" % (i, j))
                user.send(texts[-1])

        def answered():
            return all(len([t for t in u.log[m:] if t.startswith("ERR ")]) >= 2
                       for u, m in zip(senders, marks))
        self.pump(room, answered, timeout=2 * WAIT, what="an answer to each message")
        refused = [t for u, m in zip(senders, marks) for t in u.log[m:] if t.startswith("ERR ")]
        self.assertTrue(all(re.match(NOT_SENT, t) for t in refused), refused)
        # Some were on their way to Redis, not refused before they were sent.
        self.assertTrue(any("store failed" in t for t in refused), refused)
        for text in texts:
            fates[("ann", text)] = False
        # Redis goes on, with the scripts still in its socket buffers.
        self.redis.proc.send_signal(signal.SIGCONT)
        self.say_until(room, ann, "back", 0, True, fates, "chat did not come back")
        self.all_delivered(room, fates, receivers=[bob])
        # Redis did run what was in its socket buffers, and refused it as late.
        self.assertIn(b"errorstat_LATE:", self.redis.call("INFO", "errorstats"))
        # Nor is any in the history.
        mark = len(bob.log)
        bob.send("/history 100")
        self.wait_line(room, bob, r"^OK \d+ messages?$", mark)
        history = [HIST_RE.match(t).groups()[1:] for t in bob.log[mark:] if t.startswith("HIST ")]
        for text in texts:
            self.assertNotIn(("ann", text), history)
        self.assertIn(("ann", "before"), history)


if __name__ == "__main__":
    redistest.require_redis()
    echotest.main()
