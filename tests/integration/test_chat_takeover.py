"""A chat connection taken over (a planned restart's next process) before its
store, Redis, is up: its lines wait for the store and are handled once it
tells it is up (store_on_available()), with no polling meanwhile (issue 18).
The hand-over state is crafted here, as in test_takeover.py."""

import select
import socket
import struct
import time
import unittest

import redistest
from echotest import main
from test_takeover import HandedOver, state

CHAT = 2  # HANDOVER_CHAT in src/proto/handover.h


def chat_record(token, name, unread=b""):
    """A logged-in chat connection as chat_hand_over writes it, with unread bytes in its input."""
    def text(data):
        return struct.pack(">I", len(data)) + data
    payload = struct.pack(">QB", token, 0) + text(name.encode()) + text(b"0" * 64)
    # bytes in, bytes out, messages, start (us), flood bucket (a full burst of 20, x1000)
    payload += struct.pack(">QQQQQ", 0, 0, 0, int(time.time() * 1e6), 20000)
    payload += text(b"") + text(unread) + text(b"")
    return struct.pack(">HHI", CHAT, 0, len(payload)) + payload


def voluntary_switches(pid):
    """How often the process's main thread (the loop) has slept so far."""
    with open("/proc/%d/task/%d/status" % (pid, pid)) as status:
        for line in status:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches for %d" % pid)


class Lines:
    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def until(self, pattern, timeout=20):
        got = []
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                got.append(line.decode())
                if got[-1].startswith(pattern):
                    return got
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %r in %r" % (pattern, got))
            self.sock.settimeout(left)
            data = self.sock.recv(4096)
            if not data:
                raise AssertionError("closed before %r: %r" % (pattern, got))
            self.buffer += data


class TakenOverBeforeTheStore(unittest.TestCase):
    def setUp(self):
        self.redis = redistest.RedisServer()
        self.addCleanup(self.redis.close)
        self.proxy = redistest.HoldingProxy((redistest.RedisServer.HOST, self.redis.port))
        self.addCleanup(self.proxy.close)
        self.listener = socket.socket()
        self.addCleanup(self.listener.close)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()

    def test_its_lines_are_served_once_in_order_when_redis_comes_up_without_polling(self):
        client = socket.create_connection(self.listener.getsockname(), timeout=20)
        self.addCleanup(client.close)
        end, _ = self.listener.accept()
        # The command connection's first TIME (its readiness) is held: the store is not up.
        self.proxy.arm(b"$4\r\nTIME\r\n")
        data = state([chat_record(1, "alice", b"hello\n/who\n")])
        args = ["--chat-backend", "redis://127.0.0.1:%d" % self.proxy.port]
        with HandedOver(self.listener, [(1, end)], data, listener_name="chat", args=args) as d:
            self.assertTrue(self.proxy.held.wait(20), "echod never asked Redis for TIME")
            # While the store is down the loop sleeps: a 10 ms poll would wake it ~150 times.
            before = voluntary_switches(d.pid)
            time.sleep(1.5)
            woken = voluntary_switches(d.pid) - before
            self.assertEqual(select.select([client], [], [], 0)[0], [],
                             "a line was answered before the store was up")
            self.assertLess(woken, 40, "the loop woke %d times in 1.5 s while the store "
                                       "was down" % woken)
            self.proxy.release()
            lines = Lines(client)
            got = lines.until("WHO ")
            self.assertEqual([t for t in got if t.startswith(("ERR", "BYE"))], [],
                             "%r\n%s" % (got, d.stderr()[-2000:]))
            self.assertEqual(got[-1].split()[1:], ["alice"], got)
            client.sendall(b"/history 5\n")
            got = lines.until("OK ")
            self.assertEqual([t.split(" ", 2)[2] for t in got if t.startswith("HIST ")],
                             ["alice hello"], got)
            self.assertEqual(got[-1], "OK 1 message", got)
            self.assertEqual(len(d.lines("<3>")), 0, d.stderr())


if __name__ == "__main__":
    redistest.require_redis()
    main()
