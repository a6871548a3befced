"""echoscan against a test host in network namespaces this test creates.

Two namespaces joined by a veth pair: the scanner in one, the target in the
other, with 10.200.N.1 and 10.200.N.2 on the veth ends only. In the target,
nftables drops some ports (filtered), rejects others with a TCP reset
(closed) or an ICMP admin-prohibited (filtered), and drops only the first
SYN of two ports (open on a retry only). Listeners are opened in the target
before the scan starts; nothing sleeps. The namespaces are deleted even when
a test fails. Needs root with CAP_NET_ADMIN, ip and nft; without them it
fails at once with one line saying what is missing.
"""

import json
import os
import resource
import shutil
import subprocess
import sys
import unittest
import xml.etree.ElementTree as ET

import echotest

PID = os.getpid()
NET = "10.200.%d" % (PID % 250)
SCANNER_NS = "echoscan-%d-s" % PID
TARGET_NS = "echoscan-%d-t" % PID
VETH_SCANNER = "es%ds" % PID
VETH_TARGET = "es%dt" % PID
TARGET = NET + ".2"
ABSENT = NET + ".3"  # in our /24 on our veth, but nobody has it

OPEN = [21001, 21002, 21007]
CLOSED = [21003]  # nothing listens: the kernel answers with a reset
REJECTED = list(range(21010, 21015))  # nftables: reject with tcp reset
DROPPED = list(range(21020, 21030))  # nftables: drop
PROHIBITED = [21031]  # nftables: reject with icmp admin-prohibited
FIRST_SYN_DROPPED = [21040, 21041]  # listening, but the first SYN is dropped
EMFILE_RANGE = range(21100, 21300)  # dropped, to hold many connects in flight

RULES = """
table inet echoscan {
    chain input {
        type filter hook input priority 0; policy accept;
        iifname "lo" accept
        tcp dport 21010-21014 reject with tcp reset
        tcp dport { 21020-21029, 21100-21299 } drop
        tcp dport 21031 reject with icmpx admin-prohibited
        tcp dport 21040 quota until 80 bytes drop
        tcp dport 21041 quota until 80 bytes drop
    }
}
"""

LISTENER = """
import socket, sys
socks = []
for port in map(int, sys.argv[1:]):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)
    socks.append(s)
print("ready", flush=True)
sys.stdin.read()
"""


def sh(*args):
    echotest.run_helper(list(args), timeout=30)


def scan(*args, preexec_fn=None, pass_fds=(), extra=()):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if key in os.environ:
            env[key] = os.environ[key]
    argv = ["ip", "netns", "exec", SCANNER_NS, echotest.binary("echoscan")]
    return subprocess.run(argv + [str(a) for a in args + tuple(extra)], capture_output=True, text=True,
                          timeout=120, env=env, preexec_fn=preexec_fn, pass_fds=pass_fds)


def scan_target_loopback(*args, extra=()):
    """echoscan run inside the target namespace, whose loopback only we use."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if key in os.environ:
            env[key] = os.environ[key]
    argv = ["ip", "netns", "exec", TARGET_NS, echotest.binary("echoscan")]
    return subprocess.run(argv + [str(a) for a in args + tuple(extra)], capture_output=True,
                          text=True, timeout=120, env=env)


def ports_arg(ports):
    return ",".join(str(p) for p in ports)


def states_of(result):
    doc = json.loads(result.stdout)
    return {p["port"]: p["state"] for p in doc["hosts"][0]["ports"]}


class NetnsScan(unittest.TestCase):
    """With io_uring where the kernel allows it (the default engine)."""

    listener = None
    extra = ()

    def scan(self, *args, **kwargs):
        return scan(*args, extra=self.extra, **kwargs)

    @classmethod
    def setUpClass(cls):
        try:
            cls.build_network()
        except BaseException:
            cls.tear_down_network()
            raise

    @classmethod
    def build_network(cls):
        sh("ip", "netns", "add", SCANNER_NS)
        sh("ip", "netns", "add", TARGET_NS)
        sh("ip", "link", "add", VETH_SCANNER, "netns", SCANNER_NS,
           "type", "veth", "peer", "name", VETH_TARGET, "netns", TARGET_NS)
        for ns, dev, addr in ((SCANNER_NS, VETH_SCANNER, NET + ".1"),
                              (TARGET_NS, VETH_TARGET, TARGET)):
            sh("ip", "-n", ns, "addr", "add", addr + "/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        echotest.run_helper(["ip", "netns", "exec", TARGET_NS, "nft", "-f", "-"], input=RULES,
                            text=True, timeout=30)
        cls.listener = subprocess.Popen(
            ["ip", "netns", "exec", TARGET_NS, sys.executable, "-c", LISTENER] +
            [str(p) for p in OPEN + FIRST_SYN_DROPPED],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = cls.listener.stdout.readline()
        if line.strip() != "ready":
            cls.listener.kill()
            raise RuntimeError("listener in %s did not start: %r; stderr: %s"
                               % (TARGET_NS, line, cls.listener.stderr.read()))

    @classmethod
    def tear_down_network(cls):
        if cls.listener:
            cls.listener.kill()
            cls.listener.wait()
        for ns in (SCANNER_NS, TARGET_NS):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.tear_down_network()

    def test_open_closed_and_filtered_are_told_apart(self):
        ports = OPEN + CLOSED + REJECTED + DROPPED + PROHIBITED
        r = self.scan(TARGET, "-p", ports_arg(ports), "--all", "-o", "json",
                 "--timeout", "300ms", "--retries", "0")
        self.assertEqual(r.returncode, 0, r.stderr)
        want = {**{p: "open" for p in OPEN}, **{p: "closed" for p in CLOSED + REJECTED},
                **{p: "filtered" for p in DROPPED + PROHIBITED}}
        self.assertEqual(states_of(r), want)

    def test_default_output_lists_only_the_open_ports(self):
        r = self.scan(TARGET, "-p", "21000-21035", "--timeout", "300ms", "--retries", "0")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "".join("%d/tcp open unknown\n" % p for p in OPEN))
        self.assertRegex(r.stderr, r"3 open, 22 closed, 11 filtered")

    def test_a_dropped_first_syn_is_filtered_without_retries(self):
        r = self.scan(TARGET, "-p", FIRST_SYN_DROPPED[0], "--all", "-o", "json",
                 "--timeout", "300ms", "--retries", "0")
        self.assertEqual(states_of(r), {FIRST_SYN_DROPPED[0]: "filtered"})

    def test_a_retry_finds_the_port_whose_first_syn_was_dropped(self):
        r = self.scan(TARGET, "-p", FIRST_SYN_DROPPED[1], "--all", "-o", "json",
                 "--timeout", "300ms", "--retries", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(states_of(r), {FIRST_SYN_DROPPED[1]: "open"})

    def test_full_range_scan_of_loopback_reports_exactly_the_listeners(self):
        # The target namespace's loopback has our listeners and nothing else.
        r = scan_target_loopback("127.0.0.1", extra=self.extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "".join("%d/tcp open unknown\n" % p
                                           for p in sorted(OPEN + FIRST_SYN_DROPPED)))
        self.assertRegex(r.stderr, r"scanned 65535 ports on 1 host in [0-9.]+ s "
                         r"\([0-9]+ ports/s\): 5 open, 65530 closed, 0 filtered\n$")
        # A full range takes long enough for a progress bar to be drawn, were
        # stderr a terminal; it is not, so there must be none.
        self.assertNotIn("\r", r.stderr)
        self.assertNotIn("ETA", r.stderr)

    def test_host_that_answers_nothing_is_reported_down(self):
        r = self.scan(ABSENT, "-p", "1-20", "--timeout", "200ms", "--retries", "0")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("%s (%s): host seems down: no answer on any of 20 ports" % (ABSENT, ABSENT),
                      r.stderr)
        self.assertEqual(r.stdout, "")

    def test_running_out_of_file_descriptors_slows_the_scan_but_does_not_fail_it(self):
        # A low limit, most of it taken by inherited descriptors: the budget
        # echoscan computes from the limit is more than it can open, so it
        # meets EMFILE with connects in flight and must wait for them.
        spare = [os.open("/dev/null", os.O_RDONLY) for _ in range(90)]
        self.addCleanup(lambda: [os.close(fd) for fd in spare])

        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (160, 160))

        ports = OPEN + list(EMFILE_RANGE)
        r = self.scan(TARGET, "-p", ports_arg(ports), "--all", "-o", "json", "--timeout", "200ms",
                 "--retries", "0", preexec_fn=limit, pass_fds=spare)
        self.assertEqual(r.returncode, 0, r.stderr)
        states = states_of(r)
        self.assertEqual(states, {**{p: "open" for p in OPEN},
                                  **{p: "filtered" for p in EMFILE_RANGE}})


    def nmap_xml(self, *args):
        """nmap's connect scan from the scanner namespace, as XML (ElementTree root)."""
        r = subprocess.run(["ip", "netns", "exec", SCANNER_NS, "nmap", "-sT", "-n", "-Pn",
                            "-oX", "-"] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        return ET.fromstring(r.stdout)

    @unittest.skipUnless(shutil.which("nmap"), "needs nmap")
    def test_open_ports_are_the_ones_nmap_finds(self):
        ports = OPEN + CLOSED + REJECTED + DROPPED[:3] + PROHIBITED
        theirs = self.nmap_xml("-p", ports_arg(ports), "--max-retries", "1", TARGET)
        r = self.scan(TARGET, "-p", ports_arg(ports), "-oX", "-", "--timeout", "300ms")
        self.assertEqual(r.returncode, 0, r.stderr)
        ours = ET.fromstring(r.stdout)

        def states(root):
            return {int(p.get("portid")): p.find("state").get("state")
                    for p in root.find("host").iter("port")}

        self.assertEqual(states(ours), states(theirs))
        self.assertEqual(sorted(p for p, s in states(ours).items() if s == "open"), OPEN)

    @unittest.skipUnless(shutil.which("nmap") and os.path.exists("/usr/share/nmap/nmap-services"),
                         "needs nmap and its services file")
    def test_top_ports_are_nmaps_top_ports(self):
        # The target's loopback, where nothing but our listeners is.
        theirs = self.nmap_xml("--top-ports", "50", TARGET).find("scaninfo").get("services")
        r = scan_target_loopback("127.0.0.1", "--top-ports", "50", "-oX", "-", extra=self.extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(ET.fromstring(r.stdout).find("scaninfo").get("services"), theirs)


class NetnsScanWithoutIoUring(NetnsScan):
    """The same, one connect() call at a time through the event loop."""

    extra = ("--no-io-uring",)


if __name__ == "__main__":
    echotest.require(
        echotest.need_root("the network-namespace test"),
        echotest.need_tools("ip", "nft"),
        None if echotest.has_capability(echotest.CAP_NET_ADMIN) else
        "CAP_NET_ADMIN is missing (network namespaces and veth pairs need it): run as root "
        "outside a container, or give the container CAP_NET_ADMIN (docker run --cap-add NET_ADMIN)")
    echotest.main()
