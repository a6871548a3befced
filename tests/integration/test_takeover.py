"""Taking over a hand-over state that the test crafts itself (issue 23): the
sockets and the echod-state memfd passed as systemd's fd store passes them
(LISTEN_FDS), so the state can be wrong in ways a real echod never writes."""

import os
import socket
import struct
import time
import unittest

from echotest import DaemonProcess, binary, recv_exactly, main

ECHO_TCP = 1  # HANDOVER_ECHO_TCP in src/proto/handover.h


def fnv1a(data, hash_=0xcbf29ce484222325):
    for byte in data:
        hash_ = ((hash_ ^ byte) * 0x100000001b3) & 0xffffffffffffffff
    return hash_


def echo_record(token, pending=b""):
    """An echo connection as echo_tcp_pool_hand_over writes it."""
    payload = struct.pack(">QBQQQI", token, 0, 0, 0, int(time.time() * 1e6), len(pending))
    payload += pending
    return struct.pack(">HHI", ECHO_TCP, 0, len(payload)) + payload


def state(records, count=None):
    """A whole state (src/proto/handover.c); count may disagree with the records, checksum good."""
    payload = b"".join(records)
    middle = struct.pack(">IIQ", 1, len(records) if count is None else count, len(payload))
    return b"ECHODHO1" + middle + struct.pack(">Q", fnv1a(middle + payload)) + payload


class HandedOver(DaemonProcess):
    """echod started with a listener (named listener_name), the sockets named conn-N, and the
    state; args are more command-line options."""

    def __init__(self, listener, conns, data, listener_name="echo", args=()):
        super().__init__()
        self.memfd = os.memfd_create("echod-state", 0)
        os.write(self.memfd, data)
        fds = [listener.fileno()] + [s.fileno() for _, s in conns] + [self.memfd]
        names = [listener_name] + ["conn-%d" % token for token, _ in conns] + ["echod-state"]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LISTEN_FDS": str(len(fds)),
               "LISTEN_FDNAMES": ":".join(names), "NOTIFY_SOCKET": self.notify.path}
        for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if key in os.environ:
                env[key] = os.environ[key]

        def hand_over():
            # Out of the way first, so that no descriptor is overwritten before it is moved.
            for i, fd in enumerate(fds):
                os.dup2(fd, 100 + i)
            for i in range(len(fds)):
                os.dup2(100 + i, 3 + i)
                os.close(100 + i)
        script = 'LISTEN_PID=$$ exec "$0" --config /dev/null "$@"'
        self.start(["/bin/sh", "-c", script, binary("echod")] + list(args), env=env,
                   preexec_fn=hand_over, close_fds=False)
        self.notify.wait_key("READY", "1")
        # Only echod holds them now: its close is the connection's end.
        os.close(self.memfd)
        for _, s in conns:
            s.close()

    def lines(self, prefix):
        return [line for line in self.stderr().splitlines() if line.startswith(prefix)]


class TakeOver(unittest.TestCase):
    def setUp(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.clients = []

    def tearDown(self):
        for s in self.clients:
            s.close()
        self.listener.close()

    def tcp_connection(self):
        """A client and echod's end of its connection (accepted here, handed to echod)."""
        client = socket.create_connection(self.listener.getsockname(), timeout=20)
        self.clients.append(client)
        server_end, _ = self.listener.accept()
        return client, server_end

    def test_a_good_state_is_served_unsent_bytes_first(self):
        client, end = self.tcp_connection()
        with HandedOver(self.listener, [(1, end)], state([echo_record(1, b"left over")])) as d:
            self.assertEqual(recv_exactly(client, 9), b"left over")
            client.sendall(b"more")
            self.assertEqual(recv_exactly(client, 4), b"more")
            self.assertEqual(len(d.lines("<3>")), 0, d.stderr())
            self.assertIn("serving 1 connection(s) handed over", d.stderr())

    def test_a_count_above_the_records_refuses_the_state_before_serving_any(self):
        first, first_end = self.tcp_connection()
        second, second_end = self.tcp_connection()
        data = state([echo_record(1, b"left over"), echo_record(2, b"left over")], count=3)
        with HandedOver(self.listener, [(1, first_end), (2, second_end)], data) as d:
            # Closed without a byte: no record of a refused state is served.
            self.assertEqual(first.recv(100), b"")
            self.assertEqual(second.recv(100), b"")
            errors = d.lines("<3>")
            self.assertEqual(len(errors), 1, d.stderr())
            self.assertIn("not understood", errors[0])
            self.assertNotIn("serving", d.stderr())

    def test_a_damaged_state_is_one_error_line(self):
        client, end = self.tcp_connection()
        data = bytearray(state([echo_record(1, b"left over")]))
        data[-1] ^= 0x40  # the checksum no longer matches
        with HandedOver(self.listener, [(1, end)], bytes(data)) as d:
            self.assertEqual(client.recv(100), b"")
            errors = d.lines("<3>")
            self.assertEqual(len(errors), 1, d.stderr())
            self.assertRegex(errors[0], r"state left by the previous process is not understood "
                                        r"\(.*\); closed its 1 connection")

    def test_datagram_and_unix_sockets_are_refused_as_connections(self):
        client, end = self.tcp_connection()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        udp.connect(udp.getsockname())
        unix_end, unix_peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.clients.append(unix_peer)
        unix_peer.settimeout(20)
        records = [echo_record(1, b"left over"), echo_record(2), echo_record(3)]
        with HandedOver(self.listener, [(1, end), (2, udp), (3, unix_end)], state(records)) as d:
            self.assertEqual(recv_exactly(client, 9), b"left over")
            self.assertEqual(unix_peer.recv(100), b"")  # closed, not served
            log = d.stderr()
            self.assertEqual(log.count("refusing conn-2 "), 1, log)
            self.assertEqual(log.count("refusing conn-3 "), 1, log)
            self.assertIn("serving 1 connection(s) handed over", log)
            self.assertEqual(len(d.lines("<3>")), 0, log)


if __name__ == "__main__":
    main()
