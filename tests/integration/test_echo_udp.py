"""UDP echo (RFC 862): replies, reflection guards, rate limit."""

import os
import re
import socket
import time
import unittest

from echotest import Echod, main


def udp_client(port=0, host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, port))
    s.settimeout(5)
    return s


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
                answered = 0
                flood.settimeout(0.5)
                try:
                    while True:
                        flood.recvfrom(100)
                        answered += 1
                except socket.timeout:
                    pass
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


if __name__ == "__main__":
    main()
