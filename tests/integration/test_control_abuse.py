"""The control socket against clients that misbehave (issue 23): replies that
must stay UTF-8 frames."""

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


if __name__ == "__main__":
    main()
