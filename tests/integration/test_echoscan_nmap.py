"""echoscan as nmap users expect it: nmap's file formats checked with nmap's
own tools (the DTD with xmllint, ndiff against nmap's XML of the same
ports), the grepable form parsed the way scripts parse nmap's, the options
nmap users type, Ctrl-C, and --max-rate.

Every scan is of 127.0.0.1 and of ports this test owns: listening sockets
(open) and sockets bound but not listening (closed), on ports the kernel
picked. Nothing sleeps: a socket listens when listen() returns, and an
interrupt is sent once echoscan has said (-v) that it found the open port.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

import echotest

DTD = "/usr/share/nmap/nmap.dtd"
# What scripts apply to nmap's -oG lines (one host line, then PORT/STATE/PROTO/OWNER/SERVICE/RPC/VERSION/).
GREP_HOST = re.compile(r"^Host: (\S+) \(([^)]*)\)\tPorts: (.*?)(?:\tIgnored State: (\w+) \((\d+)\))?$")
GREP_PORT = re.compile(r"^(\d+)/(open|closed|filtered)/(tcp)//([^/]*)///$")


def env():
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if key in os.environ:
            e[key] = os.environ[key]
    return e


def run(*args, timeout=120):
    return subprocess.run([echotest.binary("echoscan")] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout, env=env())


class Ports:
    """n_open listening sockets and n_closed bound ones on 127.0.0.1."""

    def __init__(self, n_open, n_closed):
        self.sockets = []
        for _ in range(n_open + n_closed):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            self.sockets.append(s)
        # The lowest ports listen, so a scan in ascending order meets them first.
        self.sockets.sort(key=lambda s: s.getsockname()[1])
        for s in self.sockets[:n_open]:
            s.listen(16)
        self.open = [s.getsockname()[1] for s in self.sockets[:n_open]]
        self.closed = [s.getsockname()[1] for s in self.sockets[n_open:]]

    def arg(self):
        return ",".join(str(p) for p in sorted(self.open + self.closed))

    def close(self):
        for s in self.sockets:
            s.close()


def xml_ports(path):
    root = ET.parse(path).getroot()
    host = root.find("host")
    states = {int(p.get("portid")): p.find("state").get("state") for p in host.iter("port")}
    extra = {e.get("state"): int(e.get("count")) for e in host.iter("extraports")}
    return root, states, extra


class NmapFormats(unittest.TestCase):
    def setUp(self):
        self.ports = Ports(3, 30)
        self.addCleanup(self.ports.close)
        self.dir = tempfile.mkdtemp(prefix="echoscan-nmap-")
        self.addCleanup(shutil.rmtree, self.dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    @unittest.skipUnless(shutil.which("xmllint") and os.path.exists(DTD), "needs xmllint and nmap.dtd")
    def test_xml_is_valid_against_nmaps_dtd(self):
        for extra in ((), ("--all",), ("--open", "-v")):
            r = run("127.0.0.1", "-p", self.ports.arg(), "-oX", self.path("scan.xml"), *extra)
            self.assertEqual(r.returncode, 0, r.stderr)
            v = subprocess.run(["xmllint", "--noout", "--dtdvalid", DTD, self.path("scan.xml")],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(v.returncode, 0, v.stderr)

    def test_xml_lists_open_ports_and_counts_the_closed_ones_as_nmap_does(self):
        r = run("127.0.0.1", "-p", self.ports.arg(), "-oX", self.path("scan.xml"))
        self.assertEqual(r.returncode, 0, r.stderr)
        root, states, extra = xml_ports(self.path("scan.xml"))
        self.assertEqual(states, {p: "open" for p in self.ports.open})
        # 30 closed ports is more than the 25 nmap lists one by one.
        self.assertEqual(extra, {"closed": 30})
        self.assertEqual(root.find("scaninfo").get("numservices"), "33")
        self.assertEqual(root.find("runstats/finished").get("exit"), "success")
        self.assertEqual(root.find("runstats/hosts").get("up"), "1")

    @unittest.skipUnless(shutil.which("nmap") and shutil.which("ndiff"), "needs nmap and ndiff")
    def test_ndiff_finds_no_difference_from_nmaps_scan_of_the_same_ports(self):
        for extra in ((), ("--open",)):
            r = run("127.0.0.1", "-p", self.ports.arg(), "-oX", self.path("echoscan.xml"), *extra)
            self.assertEqual(r.returncode, 0, r.stderr)
            n = subprocess.run(["nmap", "-sT", "-n", "-Pn", "-p", self.ports.arg(), "-oX",
                                self.path("nmap.xml"), *extra, "127.0.0.1"],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(n.returncode, 0, n.stderr)
            # The open sets first, for a readable failure; then ndiff over everything.
            self.assertEqual(xml_ports(self.path("echoscan.xml"))[1:],
                             xml_ports(self.path("nmap.xml"))[1:])
            d = subprocess.run(["ndiff", self.path("nmap.xml"), self.path("echoscan.xml")],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(d.returncode, 0, d.stdout + d.stderr)

    def test_grepable_lines_parse_with_the_usual_regular_expression(self):
        r = run("127.0.0.1", "-p", self.ports.arg(), "-oG", "-")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("# echoscan "), lines[0])
        self.assertIn("Host: 127.0.0.1 ()\tStatus: Up", lines)
        hosts = [GREP_HOST.match(line) for line in lines if "\tPorts: " in line]
        self.assertEqual(len(hosts), 1, r.stdout)
        m = hosts[0]
        self.assertEqual(m.group(1), "127.0.0.1")
        ports = [GREP_PORT.match(item) for item in m.group(3).split(", ")]
        self.assertTrue(all(ports), m.group(3))
        self.assertEqual([int(p.group(1)) for p in ports], self.ports.open)
        self.assertEqual((m.group(4), m.group(5)), ("closed", "30"))
        self.assertRegex(lines[-1], r"^# echoscan done at .* -- 1 IP address \(1 host up\) "
                         r"scanned in [0-9.]+ seconds$")

    def test_oA_writes_the_three_formats(self):
        r = run("127.0.0.1", "-p", self.ports.arg(), "-oA", self.path("base"), "-q")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.path("base.nmap")) as f:
            normal = f.read()
        self.assertIn("Nmap scan report for 127.0.0.1\nHost is up.\n"
                      "Not shown: 30 closed tcp ports (conn-refused)\n", normal)
        for port in self.ports.open:
            self.assertRegex(normal, r"\n%d/tcp +open +\S+\n" % port)
        with open(self.path("base.gnmap")) as f:
            self.assertIn("\tPorts: %d/open/tcp//" % self.ports.open[0], f.read())
        self.assertEqual(xml_ports(self.path("base.xml"))[1], {p: "open" for p in self.ports.open})
        # The usual output still goes to standard output.
        self.assertEqual([int(l.split("/")[0]) for l in r.stdout.splitlines()], self.ports.open)

    def test_all_lists_every_port_and_open_only_the_open_ones(self):
        r = run("127.0.0.1", "-p", self.ports.arg(), "-oX", self.path("all.xml"), "--all")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(xml_ports(self.path("all.xml"))[1]), 33)
        r = run("127.0.0.1", "-p", self.ports.arg(), "--open", "--all", "-o", "json")
        self.assertEqual([p["port"] for p in json.loads(r.stdout)["hosts"][0]["ports"]],
                         self.ports.open)

    def test_json_records_version_arguments_and_start_time(self):
        before = time.time()
        r = run("127.0.0.1", "-p", self.ports.arg(), "-o", "json")
        doc = json.loads(r.stdout)
        self.assertRegex(doc["version"], r"^\d+\.\d+\.\d+$")
        self.assertEqual(doc["args"], "echoscan 127.0.0.1 -p %s -o json" % self.ports.arg())
        self.assertGreaterEqual(doc["start"], before - 1)
        self.assertLessEqual(doc["start"], time.time() + 1)
        self.assertFalse(doc["interrupted"])

    def test_verbose_reports_each_open_port_as_found(self):
        r = run("127.0.0.1", "-p", self.ports.arg(), "-v")
        for port in self.ports.open:
            self.assertIn("Discovered open port %d/tcp on 127.0.0.1\n" % port, r.stderr)


class Targets(unittest.TestCase):
    def setUp(self):
        self.ports = Ports(1, 1)
        self.addCleanup(self.ports.close)

    def test_input_list_and_exclude(self):
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
            f.write("# targets\n127.0.0.1   127.0.0.2\n\n127.0.0.3 # the last\n")
            f.flush()
            r = run("-iL", f.name, "--exclude", "127.0.0.2,127.0.0.3/32", "-p", self.ports.arg(),
                    "-o", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([h["address"] for h in json.loads(r.stdout)["hosts"]], ["127.0.0.1"])

    def test_excluding_every_target_is_a_usage_error(self):
        r = run("127.0.0.1", "--exclude", "127.0.0.0/24", "-p", self.ports.arg())
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.splitlines()[0], "echoscan: no host left to scan")


class Interrupt(unittest.TestCase):
    def test_ctrl_c_reports_what_was_found_and_exits_130(self):
        ports = Ports(1, 40)
        self.addCleanup(ports.close)
        out = tempfile.NamedTemporaryFile(suffix=".xml")
        self.addCleanup(out.close)
        # 41 ports at 5 a second take 8 s: the interrupt comes long before the end.
        p = subprocess.Popen([echotest.binary("echoscan"), "127.0.0.1", "-p", ports.arg(),
                              "--max-rate", "5", "-v", "-oX", out.name],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
        self.addCleanup(p.kill)
        line = p.stderr.readline()
        self.assertEqual(line, "Discovered open port %d/tcp on 127.0.0.1\n" % ports.open[0])
        p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 130, stderr)
        self.assertRegex(stdout, r"^%d/tcp open \S+\n$" % ports.open[0])
        self.assertRegex(stderr, r"echoscan: scanned \d+ ports? on 1 host .* \(interrupted\)\n$")
        root = ET.parse(out.name).getroot()
        self.assertEqual(root.find("runstats/finished").get("exit"), "error")
        self.assertEqual(root.find("runstats/finished").get("errormsg"), "interrupted")


class MaxRate(unittest.TestCase):
    def test_max_rate_is_not_exceeded(self):
        # 300 closed ports at 150 a second: about 2 s. Load can only slow
        # echoscan down, so the bound that must hold is the upper one; the
        # lower one only catches a limiter far off (4 times too slow).
        rate, n = 150, 300
        ports = Ports(0, n)
        self.addCleanup(ports.close)
        start = time.monotonic()
        r = run("127.0.0.1", "-p", ports.arg(), "--max-rate", rate, "-q", "-o", "json")
        elapsed = time.monotonic() - start
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["hosts"][0]["closed"], n)
        measured = n / elapsed
        self.assertLessEqual(measured, rate * 1.10, "%.1f probes/s" % measured)
        self.assertGreater(measured, rate / 4, "%.1f probes/s" % measured)


class CommandLine(unittest.TestCase):
    def test_errors_start_with_the_program_name(self):
        for args in (["--bogus", "127.0.0.1"], ["-T9", "127.0.0.1"], ["127.0.0.1", "--max-rate", "0"],
                     ["127.0.0.1", "-p", "1", "--top-ports", "10"], ["127.0.0.1", "-oX"],
                     ["-iL", "/nonexistent/targets"]):
            r = run(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertTrue(r.stderr.startswith("echoscan: "), (args, r.stderr))

    def test_help_lists_the_nmap_options_and_exit_statuses(self):
        r = run("--help")
        for option in ("-oN", "-oX", "-oG", "-oA", "--open", "--top-ports", "-iL", "--exclude",
                       "-T0", "--max-rate", "--min-rate", "-v", "1-65535", "130"):
            self.assertIn(option, r.stdout)


if __name__ == "__main__":
    echotest.main()
