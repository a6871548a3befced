"""echoctl as scripts and people call it: its options anywhere, exit
statuses that tell usage errors (2) from failures (1), JSON errors under
--json, and a suggestion for a near miss (docs/control.md, echoctl(8))."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from echotest import Echod, binary, main


def run(*args):
    return subprocess.run([binary("echoctl")] + list(args), capture_output=True, text=True,
                          timeout=20)


class EchoctlCommandLine(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="echod-echoctl-")
        cls.path = os.path.join(cls.tmp, "control")
        cls.daemon = Echod(["--echo", "127.0.0.1:0", "--control", cls.path])

    @classmethod
    def tearDownClass(cls):
        cls.daemon.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_options_after_the_command(self):
        r = run("status", "--json", "--socket", self.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(json.loads(r.stdout)["ok"])
        r = run("stats", "--socket=" + self.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("ok"), r.stdout)

    def test_the_daemons_usage_errors_exit_2_and_its_refusals_1(self):
        for args in (["status", "now"], ["logs", "-n", "x"]):
            r = run("--socket", self.path, *args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("usage:", r.stderr)
        r = run("--socket", self.path, "pause", "control")
        self.assertEqual(r.returncode, 1, r.stderr)

    def test_usage_errors_exit_2_with_a_suggestion_for_a_near_miss(self):
        r = run("--socket", self.path, "stat")
        self.assertEqual(r.returncode, 2)
        self.assertIn("did you mean 'status' or 'stats'?", r.stderr)
        self.assertEqual(run("--socket", self.path, "--bogus", "status").returncode, 2)

    def test_errors_are_json_on_stdout_under_json(self):
        r = run("--socket", self.path, "stat", "--json")
        self.assertEqual(r.returncode, 2)
        reply = json.loads(r.stdout)
        self.assertEqual((reply["ok"], reply["exit"]), (False, 2))
        self.assertIn("did you mean", reply["error"])
        r = run("status", "--json", "--socket", os.path.join(self.tmp, "nothing-here"))
        self.assertEqual(r.returncode, 1)
        reply = json.loads(r.stdout)
        self.assertEqual((reply["ok"], reply["exit"]), (False, 1))
        self.assertIn("not running", reply["error"])
        self.assertEqual(r.stderr, "")
        r = run("--json", "--socket", self.path, "logs", "-n", "x")
        self.assertEqual(r.returncode, 2)
        self.assertFalse(json.loads(r.stdout)["ok"])


if __name__ == "__main__":
    main()
