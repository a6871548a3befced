"""Restarts keep every echo connection: systemd's fd store, under a real systemd.

The build is installed into a container whose PID 1 is systemd (as in
test_systemd.py). 100 clients stream random data to echo.socket (TCP port 7)
and check every byte that comes back, while `systemctl restart echo.service`
runs three times (a new MainPID each time). Then each client half-closes and
must get back exactly what it sent, in order, with no reset. Finally
`systemctl stop` drains: open connections get their echo and a clean FIN.
"""

import os
import random
import selectors
import shutil
import socket
import tempfile
import threading
import time
import unittest

import container
import echotest
from test_systemd import install_stage

CLIENTS = 100
CHUNK = 16384
PATTERN = random.Random(862).randbytes(1 << 20)
RESTARTS = 3


class Stream:
    """One client: sends a pattern from its own offset, checks the echo as it comes."""

    def __init__(self, number):
        self.number = number
        self.offset = (number * 7919) % len(PATTERN)
        self.sock = socket.create_connection(("127.0.0.1", 7), timeout=10)
        self.sock.setblocking(False)
        self.sent = 0
        self.received = 0
        self.finishing = False
        self.write_shut = False
        self.eof = False
        self.error = None

    def expected(self, start, length):
        out = bytearray()
        position = (self.offset + start) % len(PATTERN)
        while len(out) < length:
            piece = PATTERN[position:position + length - len(out)]
            out += piece
            position = 0
        return bytes(out)

    def want_write(self):
        # Bounded in flight: a client never gets far ahead of its echo.
        return not self.write_shut and self.sent - self.received < 4 * CHUNK

    def on_write(self):
        if self.finishing:
            self.sock.shutdown(socket.SHUT_WR)
            self.write_shut = True
            return
        data = self.expected(self.sent, CHUNK)
        try:
            n = self.sock.send(data)
        except BlockingIOError:
            return
        self.sent += n

    def on_read(self):
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        if not data:
            self.eof = True
            return
        if data != self.expected(self.received, len(data)):
            self.error = "byte %d of client %d differs" % (self.received, self.number)
        self.received += len(data)


class Driver(threading.Thread):
    def __init__(self, streams):
        super().__init__(daemon=True)
        self.streams = streams
        self.finish = threading.Event()
        self.failure = None

    def run(self):
        selector = selectors.DefaultSelector()
        for s in self.streams:
            selector.register(s.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, s)
        try:
            while not all(s.eof for s in self.streams):
                if self.finish.is_set():
                    for s in self.streams:
                        s.finishing = True
                for s in self.streams:
                    if s.eof:
                        continue
                    events = selectors.EVENT_READ | (selectors.EVENT_WRITE if s.want_write() else 0)
                    selector.modify(s.sock, events, s)
                for key, mask in selector.select(timeout=0.5):
                    s = key.data
                    if mask & selectors.EVENT_READ:
                        s.on_read()
                    if mask & selectors.EVENT_WRITE and s.want_write():
                        s.on_write()
                    if s.eof:
                        selector.unregister(s.sock)
        except OSError as e:  # a reset is the failure this test exists to catch
            self.failure = "%s: %s" % (type(e).__name__, e)


CHAT_USERS = 20


class ChatUser:
    """A chat user on echo-chat.socket (TCP 7070), from its own loopback address."""

    def __init__(self, name, address):
        self.name = name
        self.address = address
        self.messages = []  # (sender, number) of each MSG
        self.bad = []       # lines that must not come: JOIN, LEAVE, ERR, BYE after login
        self.joins_expected = 0
        self.done = threading.Event()

    def register(self):
        self.sock = socket.create_connection(("127.0.0.1", 7070), timeout=30,
                                             source_address=(self.address, 0))
        self.file = self.sock.makefile("rb")
        self.expect(b"NAME?")
        self.sock.sendall(self.name.encode() + b"\n")
        self.expect(b"PASSWORD?")
        self.sock.sendall(b"password-" + self.name.encode() + b"\n")
        self.expect(b"OK ")

    def expect(self, prefix):
        while True:
            line = self.file.readline()
            if not line:
                raise AssertionError("%s: connection closed waiting for %r" % (self.name, prefix))
            if line.startswith(prefix):
                return line

    def start(self):
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        self.sock.settimeout(None)
        try:
            for line in self.file:
                if self.done.is_set():
                    continue  # the test is over: others leaving is expected now
                if line.startswith(b"MSG "):
                    fields = line.decode(errors="replace").rstrip("\n").split(" ")
                    if len(fields) == 6 and fields[3] == "m" and fields[4] == fields[2]:
                        self.messages.append((fields[4], int(fields[5])))
                    else:
                        self.bad.append(line)
                elif line.startswith(b"JOIN ") and self.joins_expected > 0:
                    self.joins_expected -= 1  # users who registered after this one
                elif line.startswith((b"JOIN ", b"LEAVE ", b"ERR", b"BYE")):
                    self.bad.append(line)
        except OSError as e:  # a reset is also what the test is here to catch
            if not self.done.is_set():
                self.bad.append(("%s" % e).encode())
            return
        if not self.done.is_set():
            self.bad.append(b"<closed>")

    def say(self, text):
        self.sock.sendall(text.encode() + b"\n")

    def stop(self):
        self.done.set()
        self.sock.shutdown(socket.SHUT_RDWR)
        self.thread.join(10)
        self.sock.close()


class RestartTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stage = tempfile.mkdtemp(prefix="echod-stage-")
        install_stage(echotest.BUILD_DIR, cls.stage)
        # The container checks ports 7 and 7070 once it holds the lock: another
        # test's container may hold them until then.
        cls.ct = container.Container(bind=cls.stage,
                                     free_ports=container.PORT_7 + container.PORT_7070)
        try:
            cls.ct.__enter__()
        except BaseException:
            shutil.rmtree(cls.stage, ignore_errors=True)
            raise
        try:
            cls.ct.check("tar -C /pkg -cf - . | tar -C / -xf - --keep-directory-symlink "
                         "--no-overwrite-dir")
            cls.ct.check("systemctl daemon-reload")
            # Both before the service runs: systemd refuses to start a socket
            # whose service is already active.
            cls.ct.check("systemctl start echo.socket echo-chat.socket")
        except BaseException:
            cls.ct.__exit__(None, None, None)
            raise

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "ct"):
            cls.ct.__exit__(None, None, None)
        shutil.rmtree(cls.stage, ignore_errors=True)

    def status(self):
        return self.ct.run(["systemctl", "status", "--no-pager", "-l", "-n", "40",
                            "echo.service"]).stdout

    def journal_text(self, lines=60):
        entries = self.ct.journal("echo.service")[-lines:]
        return "\n".join("%s %s" % (e.get("_PID", "?"), e.get("MESSAGE", "")) for e in entries)

    def restart(self):
        """systemctl restart echo.service; a new MainPID. Returns the PID."""
        before = self.main_pid()
        # Several restarts within 10 s would hit systemd's default start limit.
        self.ct.run(["systemctl", "reset-failed", "echo.service"])
        res = self.ct.systemctl("restart", "echo.service")
        self.assertEqual(res.returncode, 0, "%s\n%s" % (res, self.status()))
        pid = self.main_pid()
        self.assertNotEqual(pid, before, self.status())
        return pid

    def main_pid(self):
        return self.ct.unit_property("echo.service", "MainPID")

    def wait_progress(self, streams, since, driver, timeout=30.0):
        """Wait until every stream has sent and received more than at since."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if driver.failure:
                self.fail("%s\n%s" % (driver.failure, self.journal_text()))
            if all(s.received > since[s.number] for s in streams):
                return
            time.sleep(0.05)
        stuck = [s.number for s in streams if s.received <= since[s.number]]
        self.fail("clients %s got no echo for %ss\n%s" % (stuck[:10], timeout, self.status()))

    def test_1_restarts_keep_every_connection_and_every_byte(self):
        streams = [Stream(i) for i in range(CLIENTS)]
        self.assertEqual(self.ct.wait_state("echo.service", "active"), "active", self.status())
        driver = Driver(streams)
        driver.start()
        pids = [self.main_pid()]
        for _ in range(RESTARTS):
            self.wait_progress(streams, {s.number: s.received for s in streams}, driver)
            pids.append(self.restart())
        # Every client talks to the last process too.
        self.wait_progress(streams, {s.number: s.received for s in streams}, driver)
        driver.finish.set()
        driver.join(120)
        self.assertFalse(driver.is_alive(), "clients did not finish")
        self.assertIsNone(driver.failure)
        for s in streams:
            self.assertIsNone(s.error)
            self.assertEqual(s.received, s.sent, "client %d" % s.number)
            s.sock.close()
        handed = [e for e in self.ct.journal("echo.service")
                  if "handed" in str(e.get("MESSAGE", "")) and "over" in str(e.get("MESSAGE", ""))]
        self.assertGreaterEqual(len(handed), RESTARTS, self.status())
        # How long no process read: from SIGTERM in the old one to serving in the new.
        entries = self.ct.journal("echo.service")
        gaps, stopped = [], None
        for e in entries:
            message = str(e.get("MESSAGE", ""))
            when = int(e.get("__REALTIME_TIMESTAMP", "0")) / 1e6
            if message.startswith("received") and "restarting" in message:
                stopped = when
            elif message.startswith("restart: serving") and stopped is not None:
                gaps.append(when - stopped)
                stopped = None
        print("\nnot reading during each restart: %s ms" % ", ".join("%.0f" % (g * 1e3)
                                                                    for g in gaps))
        total = sum(s.sent for s in streams)
        print("\n%d clients, %d restarts (PIDs %s), %.1f MiB echoed"
              % (CLIENTS, RESTARTS, " ".join(pids), total / 2**20))

    def test_2_chat_users_stay_logged_in_and_miss_nothing(self):
        users = [ChatUser("u%02d" % i, "127.0.0.%d" % (20 + i)) for i in range(CHAT_USERS)]
        began = time.monotonic()
        for number, user in enumerate(users):
            user.register()
            user.joins_expected = CHAT_USERS - 1 - number
        for user in users:
            user.start()
        sent = {user.name: 0 for user in users}
        restarts_left = RESTARTS
        pids = [self.main_pid()]
        deadline = time.monotonic() + 120
        # Each user says something about once a second, restarts in between.
        while restarts_left > 0 and time.monotonic() < deadline:
            for _ in range(2 * CHAT_USERS):
                user = users[sum(sent.values()) % CHAT_USERS]
                user.say("m %s %d" % (user.name, sent[user.name]))
                sent[user.name] += 1
                time.sleep(0.025)
            pids.append(self.restart())
            restarts_left -= 1
        for _ in range(CHAT_USERS):
            user = users[sum(sent.values()) % CHAT_USERS]
            user.say("m %s %d" % (user.name, sent[user.name]))
            sent[user.name] += 1
        # Everyone gets every message of everyone else, once, in order.
        want = {u.name: sum(n for name, n in sent.items() if name != u.name) for u in users}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(
                len(u.messages) < want[u.name] for u in users):
            time.sleep(0.1)
        waited = time.monotonic()
        for user in users:
            user.done.set()
        for user in users:
            user.stop()
        for user in users:
            self.assertEqual(user.bad, [], "%s got %s" % (user.name, user.bad[:5]))
            by_sender = {}
            for sender, number in user.messages:
                by_sender.setdefault(sender, []).append(number)
            for sender, count in sent.items():
                if sender == user.name:
                    self.assertNotIn(sender, by_sender)
                    continue
                self.assertEqual(by_sender.get(sender, []), list(range(count)),
                                 "%s from %s\n%s" % (user.name, sender, self.journal_text()))
        print("\n%d chat users through %d restarts: %d messages, each to %d others (%.0f s)"
              % (CHAT_USERS, RESTARTS, sum(sent.values()), CHAT_USERS - 1, waited - began))

    def test_3_stop_drains_and_closes_cleanly(self):
        socks = []
        for i in range(10):
            s = socket.create_connection(("127.0.0.1", 7), timeout=10)
            s.sendall(b"before stop %d\n" % i)
            self.assertEqual(echotest.recv_exactly(s, len(b"before stop %d\n" % i)),
                             b"before stop %d\n" % i)
            socks.append(s)
        res = self.ct.systemctl("stop", "echo.service")
        self.assertEqual(res.returncode, 0, res)
        for s in socks:
            s.settimeout(10)
            self.assertEqual(s.recv(100), b"")  # a FIN, not a reset
            s.close()
        self.assertEqual(self.ct.unit_property("echo.service", "Result"), "success", self.status())
        # The store is empty after a stop: nothing of the old connections stays open.
        self.assertEqual(self.ct.unit_property("echo.service", "NFileDescriptorStore"), "0")


if __name__ == "__main__":
    container.skip_unless_available()
    echotest.main()
