#!/usr/bin/env python3
"""The chat dialogue's commands after login (issue 24): /help and /me.

Raw sockets against a real echod with a real SQLite file, using the helpers
of test_chat.py (each test its own echod, state directory and loopback
source addresses; readiness from READY=1, never a sleep).
"""

from test_chat import ChatTestCase, HIST_RE, MSG_RE  # noqa: F401 (helpers only)

import echotest


class TestHelpAndMe(ChatTestCase):

    def test_help_lists_every_command(self):
        self.start()
        alice = self.register("alice")
        alice.send("/help")
        text = alice.expect(r"^OK commands: ")
        for command in ("/who", "/history", "/me", "/password", "/logout", "/quit", "/help"):
            self.assertIn(command, text)
        # An unknown command points at the same list.
        alice.send("/nosuch")
        self.assertIn("/help", alice.expect(r"^ERR unknown command /nosuch"))

    def test_me_is_relayed_and_stored_as_an_action(self):
        self.start()
        alice = self.register("alice")
        bob = self.register("bob")
        alice.send("/me waves at everyone")
        _, sender, body = MSG_RE.match(bob.expect(r"^MSG ")).groups()
        self.assertEqual((sender, body), ("alice", "/me waves at everyone"))
        alice.send("/me")
        alice.expect(r"^ERR usage: /me TEXT$")
        bob.send("/history 1")
        lines = [t for t in bob.until(r"^OK ") if t.startswith("HIST ")]
        self.assertEqual([HIST_RE.match(t).groups()[1:] for t in lines],
                         [("alice", "/me waves at everyone")])


if __name__ == "__main__":
    echotest.main()
