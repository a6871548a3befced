"""The control socket against clients that misbehave (issue 23): replies that
must stay UTF-8 frames, idle clients that must not hold every slot, log
streams that must not either, and a flood of refused peers that must not
flood the log."""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from echotest import main
from test_control import control_path, echoctl, frame, raw, read_frame, start

# echod's control slots (CONTROL_CLIENTS_MAX in src/daemon/control_service.c).
CLIENTS_MAX = 32
# At most this many of them follow the logs (CONTROL_FOLLOWERS_MAX).
FOLLOWERS_MAX = 16
# Long enough for echod's idle timeout (10 s) on a loaded machine, short of echoctl's own (60 s).
ANSWER_WITHIN = 50


def wait_until(predicate, timeout=30.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


class Utf8Replies(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="echod-abuse-state-")
        self.daemon = start(["--chat", "127.0.0.1:0", "--state-dir", self.state])

    def tearDown(self):
        self.daemon.close()
        shutil.rmtree(self.state, ignore_errors=True)

    def test_kick_of_a_long_multibyte_name_is_answered_with_a_valid_frame(self):
        name = "a" + "\u00e9" * 508  # 1017 bytes: the request line is just under 1 KiB
        r = echoctl(self.daemon, "kick", name)
        self.assertEqual(r.returncode, 1, r)
        self.assertNotIn("not a valid frame", r.stderr)
        self.assertTrue(r.stderr.startswith("error no user 'a\u00e9"), r.stderr)

    def test_an_unknown_multibyte_command_is_answered_with_valid_utf8(self):
        with raw(self.daemon) as s:
            s.sendall(frame(("\u20ac" * 30).encode()))
            reply = read_frame(s)  # decode() raises on invalid UTF-8
        self.assertTrue(reply.startswith("error unknown command '\u20ac"), reply)


class IdleClients(unittest.TestCase):
    def setUp(self):
        self.daemon = start()
        self.clients = []

    def tearDown(self):
        for s in self.clients:
            s.close()
        self.daemon.close()

    def idle_client(self):
        """A client that proved it is served (one status answered), then says nothing."""
        s = raw(self.daemon)
        self.clients.append(s)
        s.sendall(frame(b"status"))
        self.assertTrue(read_frame(s).startswith("ok echod"))
        return s

    def test_idle_clients_in_every_slot_do_not_lock_out_a_new_one(self):
        idle = [self.idle_client() for _ in range(CLIENTS_MAX)]
        r = echoctl(self.daemon, "status", timeout=ANSWER_WITHIN)
        self.assertEqual(r.returncode, 0, r)
        self.assertTrue(r.stdout.startswith("ok echod"))
        # They were closed for it, with a line in the log.
        for s in idle:
            s.settimeout(ANSWER_WITHIN)
            self.assertEqual(s.recv(1), b"")
        self.assertIn("connection closed: idle", self.daemon.stderr())

    def test_log_streams_cannot_take_every_slot(self):
        followers = []
        for _ in range(FOLLOWERS_MAX):
            s = raw(self.daemon)
            self.clients.append(s)
            s.sendall(frame(b"logs -n 0 -f"))
            self.assertEqual(read_frame(s), "ok")
            followers.append(s)
        with raw(self.daemon) as s:
            s.sendall(frame(b"logs -n 0 -f"))
            self.assertEqual(read_frame(s), "error too many log streams (%d at most)"
                             % FOLLOWERS_MAX)
            self.assertEqual(s.recv(1), b"")
        for _ in range(CLIENTS_MAX - FOLLOWERS_MAX):
            self.idle_client()
        r = echoctl(self.daemon, "status", timeout=ANSWER_WITHIN)
        self.assertEqual(r.returncode, 0, r)
        # The streams are legitimately idle: they stay, and still get records.
        for s in followers:
            s.settimeout(ANSWER_WITHIN)
            while "control: connection closed: idle" not in read_frame(s):
                pass


REFUSED_CONNECTS = 2000
FLOOD = """
import socket, sys
for _ in range(%d):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.close()
""" % REFUSED_CONNECTS


class RefusedPeers(unittest.TestCase):
    def test_a_flood_of_refused_peers_is_summarised_in_a_few_lines(self):
        with start(open_to_all=True) as daemon:
            r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                sys.executable, "-c", FLOOD, control_path(daemon)],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)

            def refused():
                total = 0
                for line in daemon.stderr().splitlines():
                    m = re.search(r"control: access denied to (\d+) more peers", line)
                    if m:
                        total += int(m.group(1))
                    elif "control: access denied (uid 65534" in line:
                        total += 1
                return total
            # Every refusal is counted, in a summary once its interval has passed.
            wait_until(lambda: refused() >= REFUSED_CONNECTS, what="the refusals to be logged")
            self.assertEqual(refused(), REFUSED_CONNECTS)
            lines = [line for line in daemon.stderr().splitlines() if "control:" in line]
            self.assertLess(len(lines), 50, lines[:60])
            # echod goes on serving its own.
            self.assertEqual(echoctl(daemon, "status").returncode, 0)


if __name__ == "__main__":
    main()
