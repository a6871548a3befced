"""UDP echo (RFC 862): replies, reflection guards, rate limit."""

import os
import re
import socket
import struct
import time
import unittest

from echotest import Echod, main


def udp_client(port=0, host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, port))
    s.settimeout(5)
    return s


def count_replies(sock, quiet):
    """Datagrams received until none comes for quiet seconds."""
    answered = 0
    sock.settimeout(quiet)
    try:
        while True:
            sock.recvfrom(100)
            answered += 1
    except socket.timeout:
        return answered


def send_spoofed(src, dst, payload):
    """Send one IPv4 UDP datagram with any source address and port (needs root)."""
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload  # no checksum
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0,
                     socket.inet_aton(src[0]), socket.inet_aton(dst[0]))
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as raw:
        raw.sendto(ip + udp, (dst[0], 0))


UDP_STATUS_RE = r"udp: (\d+) echoed, ([1-9]\d*) dropped"


class UdpEcho(unittest.TestCase):
    def test_datagram_comes_back_from_the_address_it_was_sent_to(self):
        with Echod(["--echo", "udp:0"]) as daemon:  # every address, dual stack
            _, port = daemon.address("udp")
            with udp_client() as s:
                for payload in (b"x", os.urandom(1400), os.urandom(65000)):
                    s.sendto(payload, ("127.0.0.1", port))
                    data, source = s.recvfrom(70000)
                    self.assertEqual(data, payload)
                    self.assertEqual(source, ("127.0.0.1", port))
            # A second loopback address: the reply must come from it, not from 127.0.0.1.
            with udp_client(host="127.0.0.2") as s:
                s.sendto(b"from .2", ("127.0.0.2", port))
                data, source = s.recvfrom(100)
                self.assertEqual((data, source), (b"from .2", ("127.0.0.2", port)))
            self.assertEqual(daemon.stop()[0], 0)

    def test_empty_datagram_is_echoed(self):
        with Echod(["--echo", "udp:127.0.0.1:0"]) as daemon:
            with udp_client() as s:
                s.sendto(b"", daemon.address("udp"))
                self.assertEqual(s.recvfrom(10)[0], b"")
            daemon.stop()

    def test_ipv6_datagram(self):
        try:
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s.bind(("::1", 0))
        except OSError:
            self.skipTest("no ::1")
        with s, Echod(["--echo", "udp:[::1]:0"]) as daemon:
            s.settimeout(5)
            s.sendto(b"v6", daemon.address("udp"))
            data, source = s.recvfrom(10)
            self.assertEqual(data, b"v6")
            self.assertEqual(source[:2], daemon.address("udp"))
            daemon.stop()


class Guards(unittest.TestCase):
    def expect_silence(self, sock, addr, payload=b"probe"):
        sock.sendto(payload, addr)
        sock.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            sock.recvfrom(100)

    def test_low_and_service_source_ports_get_no_answer(self):
        if os.geteuid() != 0:
            self.skipTest("binding a port below 1024 needs root")
        with Echod(["--echo", "udp:127.0.0.1:0", "--log-level", "debug"]) as daemon:
            addr = daemon.address("udp")
            for port in (0, 7, 19, 1023):
                if port == 0:
                    continue
                try:
                    s = udp_client(port)
                except OSError:
                    continue  # in use on this host
                with s:
                    self.expect_silence(s, addr)
            for port in (5353, 11211):
                try:
                    s = udp_client(port)
                except OSError:
                    continue
                with s:
                    self.expect_silence(s, addr)
            with udp_client() as s:  # an ordinary client still gets its echo
                s.sendto(b"fine", addr)
                self.assertEqual(s.recvfrom(10)[0], b"fine")
            _, log = daemon.stop()
            self.assertIn("source port below 1024", log)
            self.assertIn("source port of a well-known UDP service", log)

    def test_rate_limit_per_source(self):
        with Echod(["--echo", "udp:127.0.0.1:0", "--udp-rate", "1", "--udp-burst", "5"]) as daemon:
            addr = daemon.address("udp")
            with udp_client() as flood, udp_client(host="127.0.0.3") as other:
                for i in range(50):
                    flood.sendto(b"%d" % i, addr)
                answered = count_replies(flood, 0.5)
                # The burst (plus at most one refill) passes, the rest is dropped.
                self.assertGreaterEqual(answered, 5)
                self.assertLessEqual(answered, 7)
                # Another source has its own bucket.
                other.sendto(b"mine", addr)
                self.assertEqual(other.recvfrom(10)[0], b"mine")
            status = daemon.notify.wait_for(
                lambda f: re.search(r"udp: \d+ echoed, [1-9]\d* dropped", f.get("STATUS", "")))
            self.assertRegex(status["STATUS"], r"udp: %d echoed, %d dropped" % (answered + 1, 50 - answered))
            _, log = daemon.stop()
            self.assertIn("rate limit", log)
            # Drops are summed up, not logged one line each, and every one is counted.
            counts = [int(n) for n in re.findall(r"udp: dropped (\d+) datagram", log)]
            self.assertLess(len(counts), 5, log)
            self.assertEqual(sum(counts), 50 - answered, log)

    def test_global_budget_bounds_replies_from_all_sources(self):
        # No per-source limit: only the global budget (5 a second) stands.
        with Echod(["--echo", "udp:127.0.0.1:0", "--udp-rate", "0",
                    "--udp-global-rate", "5"]) as daemon:
            addr = daemon.address("udp")
            clients = [udp_client(host="127.0.0.%d" % (i + 1)) for i in range(10)]
            try:
                for i in range(5):
                    for c in clients:
                        c.sendto(b"%d" % i, addr)
                answered = sum(count_replies(c, 0.2) for c in clients)
            finally:
                for c in clients:
                    c.close()
            # One second's budget, plus what refilled while the test ran (a busy machine
            # stretches that), but far below the 50 sent.
            self.assertGreaterEqual(answered, 5)
            self.assertLess(answered, 25)
            _, log = daemon.stop()
            self.assertIn("global rate limit", log)


class Loops(unittest.TestCase):
    """A datagram from one of echod's own UDP sockets must not start an echo loop."""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("spoofing a source address needs a raw socket (root)")

    def expect_dropped_not_echoed(self, daemon):
        # An ordinary client's echo proves the loop has run past the spoofed datagram.
        with udp_client() as s:
            s.sendto(b"probe", daemon.address("udp"))
            self.assertEqual(s.recvfrom(10)[0], b"probe")
        status = daemon.notify.wait_for(lambda f: re.search(UDP_STATUS_RE, f.get("STATUS", "")))
        echoed = int(re.search(UDP_STATUS_RE, status["STATUS"]).group(1))
        # Only the probe was answered; an echo loop would count thousands.
        self.assertEqual(echoed, 1, status)
        _, log = daemon.stop()
        self.assertIn("source port of one of echod's own echo sockets", log)

    def test_datagram_from_its_own_address_and_port_is_dropped(self):
        # udp-rate 0: no rate limit to end a loop.
        with Echod(["--echo", "udp:127.0.0.1:0", "--udp-rate", "0"]) as daemon:
            addr = daemon.address("udp")
            send_spoofed(addr, addr, b"loop")
            self.expect_dropped_not_echoed(daemon)

    def test_datagram_from_another_of_its_udp_sockets_is_dropped(self):
        with Echod(["--echo", "udp:127.0.0.1:0", "--echo", "udp:127.0.0.1:0",
                    "--udp-rate", "0"]) as daemon:
            ports = [addr for svc, proto, addr in daemon.listening if proto == "udp"]
            self.assertEqual(len(ports), 2, daemon.listening)
            send_spoofed(ports[0], ports[1], b"ping-pong")
            self.expect_dropped_not_echoed(daemon)


if __name__ == "__main__":
    main()
