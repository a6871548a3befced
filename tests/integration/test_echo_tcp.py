"""TCP echo (RFC 862) against the real echod, standalone, over loopback."""

import os
import re
import resource
import selectors
import socket
import threading
import time
import unittest

from echotest import Echod, connect, recv_exactly, main


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


class EchoTcp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Echod(["--echo", "127.0.0.1:0"])
        cls.addr = cls.daemon.address("tcp")

    @classmethod
    def tearDownClass(cls):
        status, _ = cls.daemon.stop()
        cls.daemon.close()
        assert status == 0, status

    def roundtrip(self, payload):
        """Send payload and half-close while reading the echo (as nc does)."""
        with connect(self.addr) as s:
            def send():
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
            sender = threading.Thread(target=send)
            sender.start()
            data = recv_exactly(s, len(payload) + 1)
            sender.join()
        return data

    def test_one_byte_comes_back(self):
        self.assertEqual(self.roundtrip(b"x"), b"x")

    def test_every_byte_value_comes_back_in_order(self):
        payload = bytes(range(256)) * 64
        self.assertEqual(self.roundtrip(payload), payload)

    def test_payloads_up_to_several_mib_come_back_whole(self):
        for size in (1, 1000, 65535, 65536, 65537, 1 << 20, 6 * (1 << 20) + 7):
            payload = os.urandom(size)
            got = self.roundtrip(payload)
            self.assertEqual(len(got), size, "size %d" % size)
            self.assertEqual(got, payload, "size %d" % size)

    def test_interleaved_writes_and_reads(self):
        with connect(self.addr) as s:
            for i in range(200):
                msg = b"line %d\n" % i
                s.sendall(msg)
                self.assertEqual(recv_exactly(s, len(msg)), msg)

    def test_half_close_flushes_then_closes(self):
        # Less than the socket buffers hold, so it all goes out before we read.
        payload = os.urandom(100000)
        with connect(self.addr) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            got = recv_exactly(s, len(payload))
            self.assertEqual(got, payload)
            # After the last echoed byte, the server closes: EOF, not a hang.
            self.assertEqual(s.recv(1), b"")

    def test_many_clients_at_once(self):
        clients = 600
        raise_fd_limit(clients + 64)
        sockets = [connect(self.addr) for _ in range(clients)]
        try:
            for i, s in enumerate(sockets):
                s.sendall(b"client %d\n" % i)
            for i, s in enumerate(sockets):
                msg = b"client %d\n" % i
                self.assertEqual(recv_exactly(s, len(msg)), msg)
            # All of them at once, not one after the other: every one still open.
            for i, s in enumerate(sockets):
                s.sendall(b"again")
            for s in sockets:
                self.assertEqual(recv_exactly(s, 5), b"again")
        finally:
            for s in sockets:
                s.close()


class Backpressure(unittest.TestCase):
    def test_client_that_never_reads_is_bounded_and_others_unaffected(self):
        with Echod(["--echo", "127.0.0.1:0"]) as daemon:
            addr = daemon.address("tcp")
            rss_before = daemon.rss_kib()
            hog = connect(addr)
            hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            hog.setblocking(False)
            chunk = b"\xab" * 65536
            pushed = 0
            sel = selectors.DefaultSelector()
            sel.register(hog, selectors.EVENT_WRITE)
            limit = 256 << 20
            # Push until the server stops taking data (nothing writable for 1 s).
            while pushed < limit:
                if not sel.select(timeout=1.0):
                    break
                try:
                    pushed += hog.send(chunk)
                except BlockingIOError:
                    pass
            # Without backpressure the server would have taken all 256 MiB.
            self.assertLess(pushed, 64 << 20, "server kept reading from a client that never reads")
            rss_after = daemon.rss_kib()
            self.assertLess(rss_after - rss_before, 8 * 1024, "memory grew with an unread client")
            # Others are served meanwhile.
            with connect(addr) as other:
                other.sendall(b"still here")
                self.assertEqual(recv_exactly(other, 10), b"still here")
            # And the hog gets every byte back once it reads.
            hog.setblocking(True)
            hog.settimeout(10)
            got = 0
            hog.shutdown(socket.SHUT_WR)
            while True:
                data = hog.recv(1 << 20)
                if not data:
                    break
                self.assertEqual(data, b"\xab" * len(data))
                got += len(data)
            self.assertEqual(got, pushed)
            hog.close()
            status, _ = daemon.stop()
            self.assertEqual(status, 0)


def server_socket_memory(port):
    """skmem of the accepted socket whose local port is port (from ss), as a dict."""
    import shutil
    import subprocess
    if not shutil.which("ss"):
        raise unittest.SkipTest("no ss (iproute2)")
    out = subprocess.run(["ss", "-tmnH", "state", "established", "( sport = :%d )" % port],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"skmem:\(r(\d+),rb(\d+),t(\d+),tb(\d+),f\d+,w(\d+)", out)
    if not m:
        raise AssertionError("no server socket in ss output: %r" % out)
    return dict(zip(("r", "rb", "t", "tb", "w"), map(int, m.groups())))


class KernelMemory(unittest.TestCase):
    def pin(self, args, cap):
        """A client sends and never reads; the server's socket buffers must stay within cap."""
        with Echod(["--echo", "127.0.0.1:0", *args]) as daemon:
            addr = daemon.address("tcp")
            with connect(addr) as hog:
                hog.setblocking(False)
                chunk = b"\xcd" * 65536
                sel = selectors.DefaultSelector()
                sel.register(hog, selectors.EVENT_WRITE)
                pushed = 0
                # Until the whole path is full: nothing writable for 1 s.
                while pushed < (256 << 20) and sel.select(timeout=1.0):
                    try:
                        pushed += hog.send(chunk)
                    except BlockingIOError:
                        pass
                mem = server_socket_memory(addr[1])
                # The kernel doubles SO_RCVBUF/SO_SNDBUF for its bookkeeping.
                self.assertLessEqual(mem["rb"], 2 * cap, mem)
                self.assertLessEqual(mem["tb"], 2 * cap, mem)
                # What is really held: the receive and send queues. Each may overshoot
                # its buffer by one packet buffer (a 64 KiB TSO segment on loopback).
                self.assertLessEqual(mem["r"] + mem["w"], 4 * cap + 2 * 68 * 1024, mem)
            self.assertEqual(daemon.stop()[0], 0)

    def test_a_client_that_never_reads_pins_bounded_kernel_memory_by_default(self):
        self.pin([], 64 * 1024)

    def test_socket_buffer_sets_the_bound(self):
        self.pin(["--socket-buffer", "16K"], 16 * 1024)


class Limits(unittest.TestCase):
    def test_idle_connection_is_closed_active_one_is_not(self):
        with Echod(["--echo", "127.0.0.1:0", "--idle-timeout", "0.6"]) as daemon:
            addr = daemon.address("tcp")
            idle = connect(addr)
            active = connect(addr)
            started = time.monotonic()
            while time.monotonic() - started < 1.5:
                active.sendall(b"ping")
                self.assertEqual(recv_exactly(active, 4), b"ping")
                time.sleep(0.1)
            idle.settimeout(5)
            self.assertEqual(idle.recv(1), b"", "idle connection was not closed")
            active.sendall(b"pong")
            self.assertEqual(recv_exactly(active, 4), b"pong")
            idle.close()
            active.close()
            _, log = daemon.stop()
            self.assertIn("idle timeout", log)

    def test_max_connections_defers_the_extra_client(self):
        with Echod(["--echo", "127.0.0.1:0", "--max-connections", "2"]) as daemon:
            addr = daemon.address("tcp")
            first, second = connect(addr), connect(addr)
            for s in (first, second):
                s.sendall(b"in")
                self.assertEqual(recv_exactly(s, 2), b"in")
            third = connect(addr)  # completes in the kernel's backlog
            third.sendall(b"wait")
            third.settimeout(0.5)
            with self.assertRaises(socket.timeout):
                third.recv(4)
            daemon.notify.wait_for(lambda f: "max-connections reached" in f.get("STATUS", ""))
            first.close()
            third.settimeout(10)
            self.assertEqual(recv_exactly(third, 4), b"wait")
            second.close()
            third.close()
            status, _ = daemon.stop()
            self.assertEqual(status, 0)

    def test_running_out_of_descriptors_neither_spins_nor_crashes(self):
        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (24, 24))

        daemon = Echod(["--echo", "127.0.0.1:0"], preexec_fn=low_limit)
        with daemon:
            addr = daemon.address("tcp")
            clients = [connect(addr) for _ in range(40)]
            # Let the daemon meet EMFILE, then measure its CPU use while it waits.
            daemon.notify.wait_for(lambda f: "out of file descriptors" in f.get("STATUS", ""))
            cpu_before = daemon.cpu_seconds()
            time.sleep(1.0)
            cpu_used = daemon.cpu_seconds() - cpu_before
            self.assertLess(cpu_used, 0.3, "echod spins while out of file descriptors")
            for s in clients:
                s.close()
            with connect(addr) as s:
                s.sendall(b"recovered")
                self.assertEqual(recv_exactly(s, 9), b"recovered")
            status, log = daemon.stop()
            self.assertEqual(status, 0)
            self.assertEqual(len(re.findall("cannot accept", log)), 1, log)


class Ipv6(unittest.TestCase):
    def test_ipv6_loopback(self):
        if not socket.has_ipv6:
            self.skipTest("no IPv6")
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
                probe.bind(("::1", 0))
        except OSError:
            self.skipTest("no ::1 on this host")
        with Echod(["--echo", "[::1]:0"]) as daemon:
            addr = daemon.address("tcp")
            self.assertEqual(addr[0], "::1")
            with connect(addr) as s:
                s.sendall(b"six")
                self.assertEqual(recv_exactly(s, 3), b"six")
            self.assertEqual(daemon.stop()[0], 0)


if __name__ == "__main__":
    main()
