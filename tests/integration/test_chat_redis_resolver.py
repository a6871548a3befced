#!/usr/bin/env python3
"""A Redis address given as a host name is looked up off the loop (issue 18).

echod and Redis run in a network namespace of the test's own (`ip netns
add`), whose /etc/resolv.conf (`ip netns exec` bind-mounts
/etc/netns/NS/resolv.conf) names a DNS server on the namespace's 127.0.0.1
that takes queries and never answers. echod gets `--chat-backend
redis://NAME:PORT`. While the lookup hangs, echo must answer and the chat
say it is unavailable; a lookup that fails is one warning and retries with
the backoff; once /etc/hosts (bind-mounted from /etc/netns/NS/hosts) knows
the name, the node connects by itself and the chat works.

On the old code hiredis called getaddrinfo() on the loop: echod sent no
READY=1 and answered no echo until every lookup had timed out.

Everything stays on the namespace's loopback: nothing leaves the machine.
The test re-runs itself inside the namespace; it needs root and
CAP_NET_ADMIN (and CAP_SYS_ADMIN, for ip netns's mounts).
"""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import echotest
import redistest
from test_chat import PASSWORD, WAIT
from test_chat_redis import RedisChatTestCase

NAME = "redis.echod-resolver.test"
# How long the resolver waits for the silent server, per query: the window
# in which the lookup is known to be pending. An upper bound for everything
# asserted "while it is pending", never a pace.
RESOLVER_TIMEOUT = 8
CHILD = "ECHOD_RESOLVER_NETNS"


class SilentDns:
    """A UDP socket on 127.0.0.1:53 that records each query and answers none."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 53))
        self.sock.settimeout(0.2)
        self.queries = []  # monotonic time of each query
        self.changed = threading.Condition()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                data, _ = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            # Only queries for our name count (QNAME in wire form).
            wire = b"".join(bytes([len(p)]) + p.encode() for p in NAME.split("."))
            if wire in data:
                with self.changed:
                    self.queries.append(time.monotonic())
                    self.changed.notify_all()

    def wait_queries(self, count, timeout):
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.queries) >= count, timeout):
                raise AssertionError("no DNS query for %s within %ss (%d seen)"
                                     % (NAME, timeout, len(self.queries)))
            return self.queries[count - 1]

    def close(self):
        self.stopping = True
        self.sock.close()
        self.thread.join()


class TestHostNameLookup(RedisChatTestCase):

    def setUp(self):
        super().setUp()
        self.dns = SilentDns()
        self.addCleanup(self.dns.close)

    def test_echo_answers_while_the_name_is_resolved_and_chat_comes_once_it_resolves(self):
        daemon = echotest.Echod(
            ["--echo", "127.0.0.1:0", "--chat", "127.0.0.1:0", "--state-dir", self.state_dir,
             "--chat-backend", "redis://%s:%d" % (NAME, self.redis.port)], wait_ready=False)
        # Stopped by tearDown once it is ready and its notifications are read; killed if not.
        self.addCleanup(daemon.close)
        # The lookup is under way: its query has reached the silent server.
        first = self.dns.wait_queries(1, WAIT)
        # ... and echod is ready and echoes while it hangs (the resolver gives up
        # only RESOLVER_TIMEOUT after the query).
        daemon.wait_ready(timeout=RESOLVER_TIMEOUT)
        self._drain_notify(daemon)
        self.daemons.append(daemon)
        daemon.chat = daemon.address("tcp", "chat")
        with echotest.connect(daemon.address("tcp", "echo")) as s:
            s.sendall(b"echo while resolving\n")
            self.assertEqual(echotest.recv_exactly(s, 21), b"echo while resolving\n")
        self.assertLess(time.monotonic() - first, RESOLVER_TIMEOUT,
                        "echo answered only after the lookup could have ended")
        self.assertNotIn("cannot resolve", daemon.stderr())
        # The chat says it is unavailable, at once too.
        client = self.on(daemon)
        while True:
            line = client.line(timeout=RESOLVER_TIMEOUT)
            if line.startswith("ERR unavailable"):
                break
            self.assertRegex(line, r"^(NAME\?|PASSWORD\?)$")
            client.send("alice" if line == "NAME?" else PASSWORD)
        client.close()
        self.clients.remove(client)
        # The lookup fails: one warning that says so, then retries (a new query).
        self.wait_log(daemon, "cannot resolve %s" % NAME, timeout=WAIT + RESOLVER_TIMEOUT)
        seen = len(self.dns.queries)
        self.dns.wait_queries(seen + 1, WAIT + RESOLVER_TIMEOUT)
        with echotest.connect(daemon.address("tcp", "echo")) as s:
            s.sendall(b"still echoing\n")
            self.assertEqual(echotest.recv_exactly(s, 14), b"still echoing\n")
        warnings = [line for line in daemon.stderr().splitlines() if "unavailable (" in line]
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("cannot resolve %s" % NAME, warnings[0])
        # /etc/hosts learns the name: the next lookup finds it and chat works.
        with open("/etc/hosts", "a") as hosts:
            hosts.write("127.0.0.1 %s\n" % NAME)
        alice = self.login_on(daemon, "alice", deadline=WAIT + 3 * RESOLVER_TIMEOUT)
        self.assertEqual(self.who([alice], alice), ["alice"])
        self.wait_log(daemon, "is back")


def run_in_namespace():
    """Make the namespace, run this file inside it, and remove the namespace."""
    echotest.require(
        echotest.need_root("the resolver test (a network namespace)"),
        None if echotest.has_capability(echotest.CAP_NET_ADMIN) else
        "the resolver test needs CAP_NET_ADMIN (ip netns add)",
        None if echotest.has_capability(echotest.CAP_SYS_ADMIN) else
        "the resolver test needs CAP_SYS_ADMIN (ip netns exec mounts /etc/netns)",
        echotest.need_tools("ip", hint="apt-get install iproute2"),
        redistest.redis_problem())
    namespace = "echod-resolver-%d" % os.getpid()
    etc = os.path.join("/etc/netns", namespace)
    try:
        os.makedirs(etc)
        with open(os.path.join(etc, "resolv.conf"), "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:%d attempts:1\n" % RESOLVER_TIMEOUT)
        with open(os.path.join(etc, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n::1 localhost\n")
        subprocess.run(["ip", "netns", "add", namespace], check=True)
        subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True)
        env = dict(os.environ, **{CHILD: namespace})
        rc = subprocess.run(["ip", "netns", "exec", namespace, sys.executable, "-B",
                             os.path.abspath(__file__)] + sys.argv[1:], env=env).returncode
    finally:
        subprocess.run(["ip", "netns", "del", namespace], stderr=subprocess.DEVNULL)
        shutil.rmtree(etc, ignore_errors=True)
    sys.exit(rc)


if __name__ == "__main__":
    if os.environ.get(CHILD):
        echotest.main()
    else:
        run_in_namespace()
