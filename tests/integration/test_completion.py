"""bash completion for every program (completion/), run in a real bash."""

import os
import subprocess
import sys
import unittest

from echotest import BUILD_DIR, SOURCE_DIR, main

BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
PROGRAMS = ("echoctl", "echod", "echocat", "echoscan", "echobench")


def complete(*words):
    """The words bash would offer for the command line words (the last one is being typed)."""
    name = words[0]
    script = """
source %s
source %s
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_%s "${COMP_WORDS[0]}" "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
printf '%%s\\n' "${COMPREPLY[@]}"
""" % (BASH_COMPLETION, os.path.join(SOURCE_DIR, "completion", name), name)
    env = dict(os.environ, PATH=os.path.join(BUILD_DIR, "programs") + ":" + os.environ["PATH"])
    res = subprocess.run(["bash", "-c", script, "complete"] + list(words), capture_output=True,
                         text=True, env=env, timeout=30)
    if res.returncode != 0 or res.stderr:
        raise AssertionError("bash failed: %r" % res)
    return sorted(w for w in res.stdout.split("\n") if w)


class Completion(unittest.TestCase):
    def test_echoctl_offers_commands_then_their_arguments(self):
        self.assertEqual(complete("echoctl", "st"), ["stats", "status"])
        self.assertEqual(complete("echoctl", "--json", "pause", ""), ["all", "chat", "echo"])
        self.assertEqual(complete("echoctl", "--socket", "/x", "clear"), ["clear-logs"])
        self.assertEqual(complete("echoctl", "logs", "-"), ["-f", "-n"])
        self.assertEqual(complete("echoctl", "users", ""), ["remove"])
        self.assertIn("--socket", complete("echoctl", "--"))

    def test_echod_options_come_from_its_help(self):
        self.assertEqual(complete("echod", "--con"), ["--config", "--console", "--control"])
        self.assertEqual(complete("echod", "--log-level", "w"), ["warning"])

    def test_the_tools_offer_their_options(self):
        for tool, prefix, expected in (("echoscan", "--po", "--ports"),
                                       ("echobench", "--conn", "--connections"),
                                       ("echocat", "--ud", "--udp")):
            self.assertIn(expected, complete(tool, prefix), tool)

    def test_every_program_has_a_file(self):
        for program in PROGRAMS:
            self.assertTrue(os.path.exists(os.path.join(SOURCE_DIR, "completion", program)))


if __name__ == "__main__":
    if not os.path.exists(BASH_COMPLETION):
        sys.stderr.write("skipped: bash-completion is not installed\n")
        sys.exit(77)
    main()
