#!/usr/bin/env python3
"""The Redis chat backend with a password (issue 19; docs/chat.md, "A Redis
with a password"): chat-redis-user and chat-redis-password-file.

One redis-server of the test's own (free loopback port, own directory, no
persistence) with an ACL user `echod`; the default user stays open so that
the fixture itself can PING and watch. Checked:

- the right password: the chat works, and every connection of echod's is
  logged in as `echod` (CLIENT LIST), the subscriber's included;
- a wrong password: echod starts, echo serves, the chat refuses with
  `ERR unavailable`, one warning names Redis's refusal, and once the file
  holds the right password the chat comes back by itself (the file is read
  again at each reconnect);
- the password changed on the server (ACL SETUSER) while echod runs and its
  connections cut: one warning, then back once the file is updated;
- the password is never in echod's log nor on its command line.
"""

import os
import re
import tempfile
import time

import echotest
import redistest
from test_chat import WAIT
from test_chat_redis import DRY, RedisChatTestCase

USER = "echod"
# The one warning of credentials refused (credentials_problem() in redis_backend.c).
REFUSED = re.compile(r"chat: redis \S+: AUTH refused: WRONGPASS[^;]*; retrying")


class AuthTestCase(RedisChatTestCase):

    def setUp(self):
        if DRY:
            self.skipTest("ECHOD_REDIS_TEST_DRY: needs the Redis backend")
        super().setUp()
        self.secret_dir = tempfile.mkdtemp(prefix="secret-", dir=self.state_dir)
        self.set_server_password("s3cret-one two")

    def set_server_password(self, password):
        self.redis.call("ACL", "SETUSER", USER, "reset", "on", ">" + password, "~*", "&*",
                        "+@all")

    def write_password(self, password, name="redis-password"):
        """The password file, as an admin writes it: mode 0600, a line end after it."""
        path = os.path.join(self.secret_dir, name)
        fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        os.rename(path + ".new", path)
        return path

    def auth_node(self, path):
        return self.node(None, "--chat-redis-user", USER, "--chat-redis-password-file", path)

    def echod_clients(self):
        """CLIENT LIST lines of echod's connections (not this fixture's own)."""
        listing = self.redis.call("CLIENT", "LIST")
        if isinstance(listing, bytes):
            listing = listing.decode()
        return [line for line in listing.splitlines() if " cmd=client|list " not in line + " "]

    def wait_refused(self, node, count=1):
        deadline = time.monotonic() + WAIT
        while len(REFUSED.findall(node.stderr())) < count:
            self.assertLess(time.monotonic(), deadline,
                            "no AUTH refusal in the log: %s" % node.stderr()[-2000:])
            time.sleep(0.1)

    def assert_secret_kept(self, node, *passwords):
        with open("/proc/%d/cmdline" % node.proc.pid, "rb") as f:
            cmdline = f.read()
        for password in passwords:
            self.assertNotIn(password, node.stderr())
            self.assertNotIn(password.encode(), cmdline)

    def assert_chat_refuses(self, node):
        client = self.on(node)
        self.assertRegex(client.line(), r"^ERR unavailable")
        client.close()
        self.clients.remove(client)

    def talk(self, node):
        a = self.login_on(node, "alice")
        b = self.login_on(node, "bob")
        a.send("hello over an authenticated redis")
        self.wait_line([a, b], b, r"^MSG \S+ alice hello over an authenticated redis$")


class TestRedisAuth(AuthTestCase):

    def test_right_password_every_connection_is_the_acl_user(self):
        node = self.auth_node(self.write_password("s3cret-one two"))
        self.talk(node)
        clients = self.echod_clients()
        # The command and subscriber connections at least; each one as USER.
        self.assertGreaterEqual(len(clients), 2, clients)
        for line in clients:
            self.assertIn(" user=%s " % USER, line + " ")
        self.assertTrue(any(" sub=1 " in line for line in clients), clients)
        self.assert_secret_kept(node, "s3cret-one two")

    def test_wrong_password_refuses_the_chat_then_the_file_fixed_brings_it_back(self):
        path = self.write_password("not-the-password")
        node = self.auth_node(path)
        self.wait_refused(node)
        self.assertIsNone(node.proc.poll(), node.stderr()[-2000:])
        with echotest.connect(node.address("tcp", "echo")) as s:
            s.sendall(b"echo still serves\n")
            self.assertEqual(echotest.recv_exactly(s, 18), b"echo still serves\n")
        self.assert_chat_refuses(node)
        # One warning for the outage, however many retries the backoff made.
        self.assertEqual(len(REFUSED.findall(node.stderr())), 1, node.stderr()[-3000:])
        self.assertNotIn("unavailable (", node.stderr())
        self.write_password("s3cret-one two")
        self.wait_log(node, "is back")
        self.talk(node)
        self.assert_secret_kept(node, "not-the-password", "s3cret-one two")

    def test_password_changed_on_the_server_while_running(self):
        path = self.write_password("s3cret-one two")
        node = self.auth_node(path)
        self.talk(node)
        self.set_server_password("rotated-2")
        # An ACL change keeps connections logged in; cut them, as a Redis restart would.
        self.redis.call("CLIENT", "KILL", "USER", USER)
        self.wait_refused(node)
        self.assert_chat_refuses(node)
        self.write_password("rotated-2")
        self.wait_log(node, "is back")
        self.talk(node)
        self.assert_secret_kept(node, "s3cret-one two", "rotated-2")


class TestPasswordFile(AuthTestCase):

    def test_a_credential_name_needs_the_credentials_directory(self):
        node = self.auth_node("redis-password")  # relative, and no $CREDENTIALS_DIRECTORY
        self.wait_log(node, "is not an absolute path and $CREDENTIALS_DIRECTORY is not set")
        self.assert_chat_refuses(node)

    def test_a_file_others_can_read_is_refused(self):
        path = self.write_password("s3cret-one two")
        os.chmod(path, 0o644)
        node = self.auth_node(path)
        self.wait_log(node, "is readable by others: chmod o-r it")
        self.assert_chat_refuses(node)
        os.chmod(path, 0o600)
        self.wait_log(node, "is back")


if __name__ == "__main__":
    redistest.require_redis()
    echotest.main()
