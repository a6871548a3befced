#!/usr/bin/env python3
"""The chat's login rules under attack (docs/chat.md): the rules for new
names and message text.

Clients bind their own loopback source addresses (127.x.y.z). Nothing
sleeps for synchronisation: a test waits for the lines the server owes.
"""

import echotest
from test_chat import ChatTestCase


class TestNamesAndText(ChatTestCase):

    def test_new_names_start_with_a_letter_and_keep_punctuation_apart(self):
        self.start()
        client = self.client()
        client.expect(r"^NAME\?$")
        for bad in ("-alice", ".alice", "_alice", "9lives", "alice-", "alice.", "a..b", "a-_b"):
            client.send(bad)
            client.expect(r"^ERR invalid name")
            client.expect(r"^NAME\?$")
        for good in ("A.b-c_9", "x", "burst0_1", "o.k"):
            client.send(good)
            client.expect(r"^PASSWORD\?$")
            client.send("/name " + "x" * 33)
            client.expect(r"^ERR invalid name")
            client.expect(r"^PASSWORD\?$")
            client.send("/quit")
            client.expect_closed()
            client = self.client()
            client.expect(r"^NAME\?$")

    def test_bidi_controls_line_separators_and_bom_are_refused_in_messages(self):
        self.start()
        alice = self.register("alice")
        bob = self.register("bob")
        for bad in ("evil \u202egnp.exe", "rlm \u200f", "isolate \u2067x\u2069",
                    "line\u2028break", "para\u2029graph", "\ufeffbom", "alm \u061c"):
            alice.send(bad)
            self.assertEqual([t for t in alice.barrier() if not t.startswith("JOIN ")], ["ERR invisible formatting character (bidi "
                                               "control, line separator or byte order mark)"])
        alice.send("plain caf\u00e9 \u05e9\u05dc\u05d5\u05dd is fine")
        self.assertEqual(bob.expect(r"^MSG ").split(" ", 3)[3],
                         "plain caf\u00e9 \u05e9\u05dc\u05d5\u05dd is fine")
        self.assertEqual([t for t in bob.barrier() if t.startswith("MSG")], [])
        # Refused, so not stored either: the history holds the one message that passed.
        alice.send("/history 10")
        history = [t for t in alice.until(r"^OK ") if t.startswith("HIST")]
        self.assertEqual(len(history), 1, history)


if __name__ == "__main__":
    echotest.main()
