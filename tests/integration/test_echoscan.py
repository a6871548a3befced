"""echoscan on loopback, against listeners this test opens on ports the
kernel picks. Nothing here sleeps: a listening socket is ready when listen()
returns, and a bound but not listening socket is a port that is surely closed.

These tests scan only ports they own, so that they never touch the servers of
tests running in parallel; the full-range scan of a loopback interface is in
test_echoscan_netns.py, inside a namespace of its own.
"""

import json
import os
import socket
import subprocess
import unittest

import echotest


def run(*args, timeout=120):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if key in os.environ:
            env[key] = os.environ[key]
    return subprocess.run([echotest.binary("echoscan")] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout, env=env)


class Listeners:
    """n listening sockets and n closed ports (bound, never listening)."""

    def __init__(self, n, host="127.0.0.1", family=socket.AF_INET):
        self.sockets = []
        self.open = []
        self.closed = []
        for i in range(2 * n):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.bind((host, 0))
            if i % 2 == 0:
                s.listen(16)
                self.open.append(s.getsockname()[1])
            else:
                self.closed.append(s.getsockname()[1])
            self.sockets.append(s)
        self.open.sort()
        self.closed.sort()

    def ports(self):
        return ",".join(str(p) for p in self.open + self.closed)

    def close(self):
        for s in self.sockets:
            s.close()


def open_ports(stdout):
    return [int(line.split("/")[0]) for line in stdout.splitlines()]


class LoopbackScan(unittest.TestCase):
    """With io_uring where the kernel allows it (the default engine)."""

    extra = ()

    def scan(self, *args):
        return run(*(args + self.extra))

    def setUp(self):
        self.listeners = Listeners(4)
        self.addCleanup(self.listeners.close)

    def test_exactly_the_listening_ports_are_open_in_ascending_order(self):
        r = self.scan("127.0.0.1", "-p", self.listeners.ports())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(open_ports(r.stdout), self.listeners.open)
        for line in r.stdout.splitlines():
            self.assertRegex(line, r"^\d+/tcp open \S+$")

    def test_closed_ports_are_not_reported_by_default(self):
        r = self.scan("127.0.0.1", "-p", ",".join(map(str, self.listeners.closed)))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "")

    def test_all_shows_closed_ports(self):
        r = self.scan("127.0.0.1", "-p", self.listeners.ports(), "--all")
        self.assertEqual(r.returncode, 0, r.stderr)
        states = {int(l.split("/")[0]): l.split()[1] for l in r.stdout.splitlines()}
        self.assertEqual(states, {**{p: "open" for p in self.listeners.open},
                                  **{p: "closed" for p in self.listeners.closed}})
        ports = open_ports(r.stdout)
        self.assertEqual(ports, sorted(ports))

    def test_duplicate_ports_are_scanned_and_reported_once(self):
        port = self.listeners.open[0]
        r = self.scan("127.0.0.1", "-p", "%d,%d,%d-%d" % (port, port, port, port))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(open_ports(r.stdout), [port])
        self.assertIn("scanned 1 port on 1 host", r.stderr)

    def test_json_output_parses_and_lists_states(self):
        r = self.scan("127.0.0.1", "-p", self.listeners.ports(), "-o", "json", "--all")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        host = doc["hosts"][0]
        self.assertEqual(host["address"], "127.0.0.1")
        self.assertEqual(host["status"], "up")
        self.assertEqual(host["open"], 4)
        self.assertEqual(host["closed"], 4)
        self.assertEqual(host["filtered"], 0)
        got = [(p["port"], p["state"]) for p in host["ports"]]
        want = sorted([(p, "open") for p in self.listeners.open] +
                      [(p, "closed") for p in self.listeners.closed])
        self.assertEqual(got, want)

    def test_json_without_all_lists_open_ports_only(self):
        r = self.scan("127.0.0.1", "-p", self.listeners.ports(), "-o", "json")
        doc = json.loads(r.stdout)
        self.assertEqual([p["port"] for p in doc["hosts"][0]["ports"]], self.listeners.open)

    def test_grep_output_is_tab_separated(self):
        r = self.scan("127.0.0.1", "-p", self.listeners.ports(), "-o", "grep")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [line.split("\t") for line in r.stdout.splitlines()]
        self.assertEqual([row[1] for row in rows], ["%d/tcp" % p for p in self.listeners.open])
        self.assertTrue(all(row[0] == "127.0.0.1" and row[2] == "open" for row in rows))

    def test_service_names_come_from_nmap_services_else_etc_services(self):
        names = {}
        path = "/usr/share/nmap/nmap-services"
        if not os.path.exists(path):
            path = "/etc/services"
        with open(path) as f:
            for line in f:
                fields = line.split("#")[0].split()
                if len(fields) >= 2 and fields[1].endswith("/tcp"):
                    names.setdefault(int(fields[1].split("/")[0]), fields[0])
        r = self.scan("127.0.0.1", "-p", self.listeners.ports())
        for line in r.stdout.splitlines():
            port, _, service = line.split()
            self.assertEqual(service, names.get(int(port.split("/")[0]), "unknown"))

    def test_one_connect_at_a_time_gives_the_same_answer(self):
        r = self.scan("127.0.0.1", "-p", self.listeners.ports(), "-c", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(open_ports(r.stdout), self.listeners.open)

    def test_quiet_prints_no_summary_and_stdout_has_results_only(self):
        r = self.scan("127.0.0.1", "-p", self.listeners.ports(), "-q")
        self.assertEqual(r.stderr, "")
        self.assertEqual(open_ports(r.stdout), self.listeners.open)

    def test_several_hosts_get_a_heading_each(self):
        r = self.scan("127.0.0.1", "127.0.0.1/32", "-p", self.listeners.ports())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[0], "127.0.0.1: up")
        self.assertIn("127.0.0.1/32 (127.0.0.1): up", r.stdout)
        self.assertIn("on 2 hosts", r.stderr)


class LoopbackScanWithoutIoUring(LoopbackScan):
    """The same, one connect() call at a time through the event loop."""

    extra = ("--no-io-uring",)


class Ipv6LoopbackScan(unittest.TestCase):
    def setUp(self):
        try:
            self.listeners = Listeners(2, "::1", socket.AF_INET6)
        except OSError as e:
            self.skipTest("no IPv6 loopback: %s" % e)
        self.addCleanup(self.listeners.close)

    def test_ipv6_listeners_are_found(self):
        r = run("::1", "-p", self.listeners.ports(), "-o", "grep")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([line.split("\t")[1] for line in r.stdout.splitlines()],
                         ["%d/tcp" % p for p in self.listeners.open])
        self.assertTrue(r.stdout.startswith("::1\t"))


class CommandLine(unittest.TestCase):
    def assert_usage_error(self, args, *words):
        r = run(*args)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stdout, "")
        for word in words:
            self.assertIn(word, r.stderr)

    def test_port_zero_is_a_usage_error(self):
        self.assert_usage_error(["127.0.0.1", "-p", "0"], "bad port list '0'", "out of range")

    def test_port_65536_is_a_usage_error(self):
        self.assert_usage_error(["127.0.0.1", "-p", "80,65536"], "out of range", "'65536'")

    def test_reversed_range_is_a_usage_error(self):
        self.assert_usage_error(["127.0.0.1", "-p", "2000-1000"], "start is after its end")

    def test_garbage_port_list_is_a_usage_error(self):
        for spec in ("http", "22,,80", "1-2-3", "", "22;80"):
            self.assert_usage_error(["127.0.0.1", "-p", spec], "bad port list")

    def test_bad_options_are_usage_errors(self):
        self.assert_usage_error(["127.0.0.1", "-t", "soon"], "bad timeout")
        self.assert_usage_error(["127.0.0.1", "-r", "99"], "bad retries")
        self.assert_usage_error(["127.0.0.1", "-c", "0"], "bad concurrency")
        self.assert_usage_error(["127.0.0.1", "-o", "xml"], "bad output format")
        self.assert_usage_error([], "no host given")
        self.assert_usage_error(["--bogus", "127.0.0.1"], "--help")

    def test_bad_cidr_is_a_usage_error(self):
        self.assert_usage_error(["10.0.0.0/33", "-p", "1"], "not a host or a CIDR block")
        self.assert_usage_error(["10.0.0.0/8", "-p", "1"], "block too large")

    def test_address_of_the_wrong_family_is_a_usage_error(self):
        self.assert_usage_error(["-4", "::1", "-p", "1"], "::1: no such host (IPv4)")

    def test_unresolvable_host_is_an_error_naming_it(self):
        r = run("no-such-host.invalid", "-p", "1")
        # "no such host" (2) when the resolver answers, "temporary" (1) when there is none.
        self.assertIn(r.returncode, (1, 2), r.stderr)
        self.assertRegex(r.stderr, r"no-such-host\.invalid: (no such host|temporary)")

    def test_help_and_version(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("Usage: echoscan", r.stdout)
        for option in ("--ports", "--concurrency", "--timeout", "--retries", "--all", "--output",
                       "--quiet", "--no-io-uring", "--version"):
            self.assertIn(option, r.stdout)
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^echoscan \d+\.\d+\.\d+\n$")


if __name__ == "__main__":
    echotest.main()
