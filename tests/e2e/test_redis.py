"""echod on a Redis chat backend under a real systemd (issue 12).

The build is installed into a stage ("DESTDIR=stage cmake --install"), the
stage is copied into a container (tests/lib/container.py; it shares the
host's network, and the host-wide lock keeps it alone on ports 7 and 7070),
and the admin's steps of docs/chat.md "Several nodes" are run there: the
drop-in shipped as an example (share/doc/echod/examples/redis.conf) copied
to /etc/systemd/system/echo.service.d/, "chat-backend = redis://..." in the
config file, daemon-reload, start the sockets. Redis runs on the host's
loopback (tests/lib/redistest.py), reachable from the container.

Then:
  1. systemd-analyze security echo.service with the drop-in (the figure
     docs/hardening.md gives; it fails above the same bound as the unit's);
  2. a chat user on the container's echod (echo-chat.socket, TCP 7070) and
     one on a second, plain echod on the host, both on that Redis, see each
     other's messages, and the journal of echo.service has the line saying
     echod reached Redis; TCP echo on port 7 still works.
"""

import os
import re
import select
import shutil
import socket
import sys
import tempfile
import threading
import time
import unittest

import container
import echotest
import redistest
from test_systemd import ChatLines, MAX_EXPOSURE, UNITS, install_stage, tcp_echo

DROPIN = "/etc/systemd/system/echo.service.d/redis.conf"
PASSWORD = "e2e redis password"


def reached_redis(entry, port):
    """echod's journal line for its Redis store (chat_service.c):
    "chat: store redis://127.0.0.1:PORT (redis), shared by every node on it, ..."."""
    return re.match(r"chat: store redis://127\.0\.0\.1:%d \(redis\), shared by every node"
                    % port, str(entry.get("MESSAGE", ""))) is not None


def find_in_stage(stage, relpath):
    for root, _, files in os.walk(stage):
        path = os.path.join(root, os.path.basename(relpath))
        if os.path.basename(relpath) in files and path.endswith(relpath):
            return "/" + os.path.relpath(path, stage)
    raise AssertionError("cmake --install put no %s into %s" % (relpath, stage))


def chat_user(name, source, port=7070, deadline=30.0):
    """Register name from source; returns (client, the lines up to OK welcome).

    Until a node's connection to Redis is up (echod was just started by the
    first connection) a login gets "ERR unavailable ...": then the prompt
    comes again, or the connection closes and the login starts over."""
    end = time.monotonic() + deadline
    while True:
        client = ChatLines(source, port)
        lines = []
        greeted = None
        try:
            while True:
                line = client.line()
                lines.append(line)
                if line.startswith("ERR unavailable"):
                    if time.monotonic() > end:
                        raise AssertionError("chat still unavailable: %r" % lines)
                elif line.startswith("HELLO "):
                    greeted = line[len("HELLO "):]
                elif line == "NAME?":
                    client.send(name)
                elif line == "PASSWORD?" and greeted not in (None, name):
                    client.send("/name " + name)
                    greeted = name
                elif line == "PASSWORD?":
                    client.send(PASSWORD)
                elif line.startswith(("OK welcome", "ERR", "BYE")):
                    return client, lines
        except AssertionError:
            client.close()
            if time.monotonic() > end or not any(t.startswith("ERR unavailable") for t in lines):
                raise
            time.sleep(0.2)


class RedisSystemdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = redistest.RedisServer()
        cls.stage = tempfile.mkdtemp(prefix="echod-stage-")
        try:
            cls.unit_dir = install_stage(echotest.BUILD_DIR, cls.stage)
            cls.example = find_in_stage(cls.stage, "doc/echod/examples/redis.conf")
            cls.ct = container.Container(bind=cls.stage,
                                         free_ports=container.PORT_7 + container.PORT_7070)
            cls.ct.__enter__()
        except BaseException:
            cls.redis.close()
            shutil.rmtree(cls.stage, ignore_errors=True)
            raise
        try:
            cls.ct.check("tar -C /pkg -cf - . | tar -C / -xf - --keep-directory-symlink "
                         "--no-overwrite-dir")
            # The admin's steps (docs/chat.md, "Several nodes").
            cls.ct.check(["sh", "-c", 'mkdir -p "${1%/*}" && cp "$0" "$1"', cls.example, DROPIN])
            m = re.search(r"--config FILE\s+config file \(default (\S+)\)",
                          cls.ct.check(["echod", "--help"]))
            cls.config = m.group(1)
            cls.ct.check(["sh", "-c", 'mkdir -p "${0%/*}" && printf "%s\\n" "$1" > "$0"',
                          cls.config, "chat-backend = " + cls.redis.url])
            cls.ct.check("systemctl daemon-reload")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "ct"):
            cls.ct.__exit__(None, None, None)
        shutil.rmtree(cls.stage, ignore_errors=True)
        cls.redis.close()

    def status(self):
        return self.ct.run(["systemctl", "status", "--no-pager", "-l", "-n", "30",
                            "echo.service"]).stdout

    def start_sockets(self):
        for unit in ("echo-chat.socket", "echo.socket"):
            res = self.ct.systemctl("start", unit)
            self.assertEqual(res.returncode, 0, res)
            self.ct.wait_state(unit, "active")

    def host_node(self):
        """A second node: a plain echod on the host, on the same Redis."""
        state = tempfile.mkdtemp(prefix="echod-e2e-redis-")
        self.addCleanup(shutil.rmtree, state, True)
        host = echotest.Echod(["--echo", "127.0.0.1:0", "--chat", "127.0.0.1:0",
                               "--state-dir", state, "--chat-backend", self.redis.url])
        self.addCleanup(host.close)
        # Read its sd_notify messages as systemd would (echod waits when the queue is full).
        stop_drain = threading.Event()

        def drain():
            while not stop_drain.is_set():
                if select.select([host.notify.sock], [], [], 0.1)[0]:
                    host.notify.sock.recv(65536)
        drainer = threading.Thread(target=drain, daemon=True)
        drainer.start()
        self.addCleanup(drainer.join)
        self.addCleanup(stop_drain.set)
        return host

    def test_01_the_drop_in_applies_and_its_exposure(self):
        self.assertIn(DROPIN, self.ct.unit_property("echo.service", "DropInPaths").split())
        self.assertEqual(self.ct.unit_property("echo.service", "PrivateNetwork"), "no")
        self.assertEqual(set(self.ct.unit_property("echo.service", "IPAddressDeny").split()),
                         {"0.0.0.0/0", "::/0"})
        self.assertIn("127.0.0.0/8", self.ct.unit_property("echo.service", "IPAddressAllow").split())
        res = self.ct.run(["systemd-analyze", "security", "--no-pager", "echo.service"])
        m = re.search(r"Overall exposure level for echo\.service:\s*([0-9.]+)\s*(\S+)", res.stdout)
        self.assertIsNotNone(m, res)
        sys.stderr.write("\nsystemd-analyze security echo.service with %s: %s %s\n"
                         % (DROPIN, m.group(1), m.group(2)))
        bad = [line for line in res.stdout.splitlines() if line.startswith("\u2717")]
        if bad:
            sys.stderr.write("settings that raise it:\n%s\n" % "\n".join(bad))
        self.assertLessEqual(float(m.group(1)), MAX_EXPOSURE, res.stdout)

    def test_02_chat_across_the_container_and_a_host_node(self):
        self.ct.run(["systemctl", "reset-failed"] + list(UNITS))
        self.start_sockets()
        self.assertEqual(tcp_echo(b"echo beside redis\n")[0], b"echo beside redis\n")

        host = self.host_node()

        alice, lines = chat_user("alice", "127.0.0.2")
        self.addCleanup(alice.close)
        self.assertEqual(lines[-1], "OK welcome, alice", "%r\n%s" % (lines, self.status()))
        self.ct.wait_state("echo.service", "active")
        self.ct.wait_journal(lambda e: reached_redis(e, self.redis.port),
                             unit="echo.service", timeout=30)
        bob, lines = chat_user("bob", "127.0.0.3", port=host.address("tcp", "chat")[1])
        self.addCleanup(bob.close)
        self.assertEqual(lines[-1], "OK welcome, bob", "%r\n%s" % (lines, host.stderr()[-2000:]))

        bob.send("hello from the host node")
        got = [t for t in alice.until(r"^MSG ") if not t.startswith(("JOIN ", "HIST "))]
        self.assertRegex(got[-1], r"^MSG \S+ bob hello from the host node$", got)
        alice.send("hello from the container")
        got = [t for t in bob.until(r"^MSG ") if not t.startswith(("JOIN ", "HIST "))]
        self.assertRegex(got[-1], r"^MSG \S+ alice hello from the container$", got)
        alice.send("/who")
        self.assertEqual(sorted(alice.until(r"^WHO ")[-1].split()[1:]), ["alice", "bob"])

        res = self.ct.systemctl("stop", "echo.service", "echo.socket", "echo-chat.socket")
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(self.ct.unit_property("echo.service", "Result"), "success", self.status())
        status, stderr = host.stop()
        self.assertEqual(status, 0, stderr[-3000:])

    def test_03_a_message_read_first_by_the_next_process_is_relayed(self):
        """A planned restart on Redis: a line the next process reads at once
        (sent while no process was reading) waits for its store instead of
        being refused with "ERR not sent" (docs/echod.md: "a message sent
        while no process was reading is read, stored and relayed by the next
        one"). A drop-in holds the next process in ExecStartPre= until the
        test has sent its line, so the line is in the socket when it starts."""
        gate = "/run/echod-test-gate"
        dropin = "/etc/systemd/system/echo.service.d/zz-test-gate.conf"
        self.ct.check(["touch", gate])
        self.ct.check(["sh", "-c", 'printf "%s\\n" "[Service]" "$1" > "$0"', dropin,
                       "ExecStartPre=+/bin/sh -c 'while [ ! -e %s ]; do sleep 0.05; done'"
                       % gate])
        self.addCleanup(self.ct.run, "systemctl daemon-reload")
        self.addCleanup(self.ct.run, ["rm", "-f", dropin, gate])
        self.ct.check("systemctl daemon-reload")
        self.ct.run(["systemctl", "reset-failed"] + list(UNITS))
        self.start_sockets()

        host = self.host_node()

        carol, lines = chat_user("carol", "127.0.0.4")
        self.addCleanup(carol.close)
        self.assertEqual(lines[-1], "OK welcome, carol", "%r\n%s" % (lines, self.status()))
        self.ct.wait_state("echo.service", "active")
        dave, lines = chat_user("dave", "127.0.0.5", port=host.address("tcp", "chat")[1])
        self.addCleanup(dave.close)
        self.assertEqual(lines[-1], "OK welcome, dave", "%r\n%s" % (lines, host.stderr()[-2000:]))
        # Both sessions are settled (a /who each answered) before the restart.
        carol.send("/who")
        carol.until(r"^WHO ")
        dave.send("/who")
        dave.until(r"^WHO ")

        self.ct.check(["rm", "-f", gate])
        self.ct.run(["systemctl", "reset-failed", "echo.service"])
        res = self.ct.systemctl("restart", "--no-block", "echo.service")
        self.assertEqual(res.returncode, 0, res)
        # The old process has handed carol over; the next one waits at the gate.
        deadline = time.monotonic() + 30
        while self.ct.unit_property("echo.service", "SubState") != "start-pre":
            self.assertLess(time.monotonic(), deadline, self.status())
            time.sleep(0.05)
        carol.send("sent while no process was reading")
        carol.send("/who")
        self.ct.check(["touch", gate])
        # The /who after it answers WHO, or "ERR unavailable" while the store is out.
        got = carol.until(r"^(WHO |ERR unavailable)")
        self.assertEqual([t for t in got if t.startswith(("ERR", "BYE"))], [],
                         "%r\n%s" % (got, self.status()))
        got = dave.until(r"^MSG ")
        self.assertRegex(got[-1], r"^MSG \S+ carol sent while no process was reading$", got)

        res = self.ct.systemctl("stop", "echo.service", "echo.socket", "echo-chat.socket")
        self.assertEqual(res.returncode, 0, res)
        status, stderr = host.stop()
        self.assertEqual(status, 0, stderr[-3000:])

    def test_04_a_user_whose_message_awaits_redis_stays_through_a_restart(self):
        """A planned restart while a logged-in user's message waits for
        Redis's answer hands the user over like any other (docs/echod.md:
        "the user stays logged in, nobody sees a LEAVE or JOIN"), rather
        than closing it with "BYE server restarting; log in again". The
        container's echod reaches Redis through a proxy that holds Redis's
        answers to the old process once the message has gone to Redis."""
        proxy = redistest.HoldingProxy((redistest.RedisServer.HOST, self.redis.port))
        self.addCleanup(proxy.close)
        self.addCleanup(self.ct.check, ["sh", "-c", 'printf "%s\\n" "$1" > "$0"', self.config,
                                        "chat-backend = " + self.redis.url])
        self.ct.check(["sh", "-c", 'printf "%s\\n" "$1" > "$0"', self.config,
                       "chat-backend = redis://127.0.0.1:%d" % proxy.port])
        self.ct.run(["systemctl", "reset-failed"] + list(UNITS))
        self.start_sockets()

        host = self.host_node()

        erin, lines = chat_user("erin", "127.0.0.6")
        self.addCleanup(erin.close)
        self.assertEqual(lines[-1], "OK welcome, erin", "%r\n%s" % (lines, self.status()))
        self.ct.wait_state("echo.service", "active")
        frank, lines = chat_user("frank", "127.0.0.7", port=host.address("tcp", "chat")[1])
        self.addCleanup(frank.close)
        self.assertEqual(lines[-1], "OK welcome, frank", "%r\n%s" % (lines, host.stderr()[-2000:]))
        # frank is in Redis's presence once his JOIN is out (OK welcome comes before it).
        erin.until(r"^JOIN frank$")
        erin.send("/who")
        # (Names of the earlier tests' nodes stay until their presence expires.)
        self.assertLessEqual({"erin", "frank"}, set(erin.until(r"^WHO ")[-1].split()[1:]))

        text = "awaiting redis at the restart"
        proxy.hold_replies()
        erin.send(text)
        self.assertTrue(proxy.seen(text.encode()), "the message never went to Redis")
        # Redis ran it (frank gets it); its answer to the old process is held.
        got = frank.until(r"^MSG ")
        self.assertRegex(got[-1], r"^MSG \S+ erin %s$" % text, got)
        self.ct.run(["systemctl", "reset-failed", "echo.service"])
        res = self.ct.systemctl("restart", "echo.service")
        self.assertEqual(res.returncode, 0, "%s\n%s" % (res, self.status()))
        proxy.release()
        erin.send("/who")
        got = erin.until(r"^(WHO |ERR unavailable|BYE)")
        self.assertEqual([t for t in got if t.startswith(("ERR", "BYE"))], [],
                         "%r\n%s" % (got, self.status()))
        self.assertLessEqual({"erin", "frank"}, set(got[-1].split()[1:]), got)
        erin.send("after the restart")
        got = frank.until(r"^(MSG|LEAVE|JOIN) ")
        self.assertRegex(got[-1], r"^MSG \S+ erin after the restart$", got)

        # A /who whose answer is out at the restart is answered by the next process.
        proxy.hold_replies()
        erin.send("/who")
        self.assertTrue(proxy.seen(b"table.sort(out)"), "the /who never went to Redis")
        self.ct.run(["systemctl", "reset-failed", "echo.service"])
        res = self.ct.systemctl("restart", "echo.service")
        self.assertEqual(res.returncode, 0, "%s\n%s" % (res, self.status()))
        proxy.release()
        got = erin.until(r"^(WHO |ERR unavailable|BYE)")
        self.assertEqual([t for t in got if t.startswith(("ERR", "BYE"))], [],
                         "%r\n%s" % (got, self.status()))
        self.assertLessEqual({"erin", "frank"}, set(got[-1].split()[1:]), got)

        res = self.ct.systemctl("stop", "echo.service", "echo.socket", "echo-chat.socket")
        self.assertEqual(res.returncode, 0, res)
        status, stderr = host.stop()
        self.assertEqual(status, 0, stderr[-3000:])


if __name__ == "__main__":
    container.skip_unless_available()
    redistest.require_redis()
    echotest.main()
