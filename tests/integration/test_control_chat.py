"""echoctl's chat commands against a running echod with the chat: users,
users remove, kick, forget-identities, and chat users in status."""

import os
import socket
import tempfile
import shutil
import unittest

from echotest import main
from test_control import start, echoctl


def chat_port(daemon):
    for line in daemon.stdout().splitlines():
        if line.startswith("listening chat/tcp "):
            return int(line.rsplit(":", 1)[1])
    raise AssertionError("no chat socket in %r" % daemon.stdout())


class User:
    def __init__(self, daemon, address):
        self.sock = socket.create_connection(("127.0.0.1", chat_port(daemon)), timeout=20,
                                             source_address=(address, 0))
        self.file = self.sock.makefile("rb")

    def line(self):
        line = self.file.readline()
        if not line:
            raise AssertionError("connection closed")
        return line.decode().rstrip("\n")

    def until(self, prefix):
        while True:
            line = self.line()
            if line.startswith(prefix):
                return line

    def send(self, text):
        self.sock.sendall(text.encode() + b"\n")

    def register(self, name, password="password-1"):
        first = self.until(("NAME?", "HELLO"))
        if first.startswith("HELLO"):
            self.until("PASSWORD?")
            self.send("/name " + name)
        else:
            self.send(name)
        self.until("PASSWORD?")
        self.send(password)
        return self.until("OK ")

    def close(self):
        self.sock.close()


class ChatCommands(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="echod-chat-state-")
        self.daemon = start(["--chat", "127.0.0.1:0", "--state-dir", self.state])

    def tearDown(self):
        self.daemon.close()
        shutil.rmtree(self.state, ignore_errors=True)

    def test_users_lists_registered_users_and_who_is_online(self):
        alice = User(self.daemon, "127.0.0.2")
        alice.register("alice")
        bob = User(self.daemon, "127.0.0.3")
        bob.register("bob")
        bob.close()
        res = echoctl(self.daemon, "users")
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("alice", res.stdout)
        self.assertIn("bob", res.stdout)
        status = echoctl(self.daemon, "status")
        self.assertEqual(status.returncode, 0, status)
        self.assertIn("chat", status.stdout)
        alice.close()

    def test_users_remove_ends_the_session_and_the_name_is_free_again(self):
        alice = User(self.daemon, "127.0.0.2")
        alice.register("alice")
        res = echoctl(self.daemon, "users", "remove", "alice")
        self.assertEqual(res.returncode, 0, res)
        self.assertTrue(alice.until("BYE").startswith("BYE"))
        self.assertEqual(alice.file.readline(), b"")  # closed
        # The address is unknown again and the name registers anew.
        again = User(self.daemon, "127.0.0.2")
        self.assertEqual(again.until("NAME?"), "NAME?")
        again.close()
        missing = echoctl(self.daemon, "users", "remove", "nobody-here")
        self.assertEqual(missing.returncode, 1, missing)

    def test_kick_closes_every_connection_and_revokes_the_token(self):
        alice = User(self.daemon, "127.0.0.2")
        alice.register("alice")
        alice2 = User(self.daemon, "127.0.0.4")
        alice2.until("NAME?")
        alice2.send("alice")
        alice2.until("PASSWORD?")
        alice2.send("password-1")
        token = alice2.until("TOKEN ").split(" ", 1)[1]
        res = echoctl(self.daemon, "kick", "alice")
        self.assertEqual(res.returncode, 0, res)
        for conn in (alice, alice2):
            conn.until("BYE")
        # The token is no longer good.
        back = User(self.daemon, "127.0.0.5")
        back.until("NAME?")
        back.send("/token " + token)
        self.assertTrue(back.until("ERR").startswith("ERR"))
        back.close()

    def test_forget_identities_makes_a_known_address_unknown(self):
        alice = User(self.daemon, "127.0.0.2")
        alice.register("alice")
        alice.close()
        known = User(self.daemon, "127.0.0.2")
        self.assertEqual(known.until(("HELLO", "NAME?")), "HELLO alice")
        known.close()
        res = echoctl(self.daemon, "forget-identities")
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("1", res.stdout)
        unknown = User(self.daemon, "127.0.0.2")
        self.assertEqual(unknown.until(("HELLO", "NAME?")), "NAME?")
        unknown.close()


if __name__ == "__main__":
    main()
