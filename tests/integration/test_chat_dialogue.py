#!/usr/bin/env python3
"""The chat dialogue (issue 24): /help at every prompt and after login, /me,
and /name at NAME? as well as at PASSWORD?.

Raw sockets against a real echod with a real SQLite file, using the helpers
of test_chat.py (each test its own echod, state directory and loopback
source addresses; readiness from READY=1, never a sleep).
"""

from test_chat import PASSWORD, ChatTestCase, HIST_RE, MSG_RE, login_tail

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


class TestPrompts(ChatTestCase):

    def test_help_at_both_prompts_then_the_same_prompt_again(self):
        self.start()
        client = self.client()
        client.expect(r"^NAME\?$")
        client.send("/help")
        text = client.expect(r"^OK commands before login: ")
        for command in ("/name NAME", "/token TOKEN", "/quit", "/help"):
            self.assertIn(command, text)
        client.expect(r"^NAME\?$")
        client.send("erin")
        client.expect(r"^PASSWORD\?$")
        client.send("/help")
        client.expect(r"^OK commands before login: ")
        client.expect(r"^PASSWORD\?$")
        client.send("/who")
        self.assertIn("/help", client.expect(r"^ERR log in first"))
        client.expect(r"^PASSWORD\?$")

    def test_name_command_at_the_name_prompt(self):
        self.start()
        self.register("alice").close()
        client = self.client()
        client.expect(r"^NAME\?$")
        client.send("/name bad name")
        client.expect(r"^ERR invalid name")
        client.expect(r"^NAME\?$")
        client.send("/name alice")
        client.expect(r"^PASSWORD\?$")
        client.send(PASSWORD)
        login_tail(client)
        client.send("/who")
        self.assertIn("alice", client.expect(r"^WHO "))


if __name__ == "__main__":
    echotest.main()
