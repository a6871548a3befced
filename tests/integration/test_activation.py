"""echod under systemd-socket-activate: sockets passed exactly as systemd does."""

import os
import shutil
import signal
import socket
import time
import unittest

from echotest import DaemonProcess, binary, connect, free_port, recv_exactly, main

ACTIVATE = shutil.which("systemd-socket-activate") or "/usr/bin/systemd-socket-activate"


class Activated(DaemonProcess):
    """systemd-socket-activate running echod; it starts echod at the first client."""

    def __init__(self, ports, options=(), echod_args=()):
        super().__init__()
        argv = [ACTIVATE]
        for port in ports:
            argv += ["-l", "127.0.0.1:%d" % port]
        argv += list(options) + ["-E", "NOTIFY_SOCKET=" + self.notify.path]
        for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if key in os.environ:
                argv += ["-E", key]
        argv += ["--", binary("echod"), "--config", "/dev/null"] + list(echod_args)
        self.start(argv)
        # systemd-socket-activate says "Listening on ..." once per socket: our readiness signal.
        deadline = time.monotonic() + 10
        while self.stderr().count("Listening on") < len(ports):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("systemd-socket-activate did not listen: %s" % self.stderr())
            time.sleep(0.02)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=20)


@unittest.skipUnless(os.access(ACTIVATE, os.X_OK), "systemd-socket-activate is missing")
class Activation(unittest.TestCase):
    def test_stream_socket_named_echo(self):
        port = free_port()
        with Activated([port], ["--fdname=echo"]) as sa:
            with connect(("127.0.0.1", port)) as s:
                s.sendall(b"activated")
                self.assertEqual(recv_exactly(s, 9), b"activated")
            ready = sa.notify.wait_key("READY", "1")
            self.assertIn("echo:", ready["STATUS"])
            with connect(("127.0.0.1", port)) as s:  # the same echod serves the next one
                s.sendall(b"again")
                self.assertEqual(recv_exactly(s, 5), b"again")
            self.assertEqual(sa.stop(), 0)
            log = sa.stderr()
            self.assertIn("listening on 127.0.0.1:%d (tcp, from systemd)" % port, log)
            self.assertEqual(log.count("echod 0"), 1, "one echod for both clients")
            # Socket activated: no "listening" line for scripts on stdout.
            self.assertNotIn("listening echo/", sa.stdout())

    def test_datagram_socket_named_echo(self):
        port = free_port(socket.SOCK_DGRAM)
        with Activated([port], ["--datagram", "--fdname=echo"]) as sa:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", 0))
                s.settimeout(10)
                s.sendto(b"udp activated", ("127.0.0.1", port))
                data, source = s.recvfrom(100)
                self.assertEqual((data, source), (b"udp activated", ("127.0.0.1", port)))
            sa.notify.wait_key("READY", "1")
            self.assertEqual(sa.stop(), 0)
            self.assertIn("(udp, from systemd)", sa.stderr())

    def test_unnamed_sockets_are_served_as_echo(self):
        port = free_port()
        with Activated([port]) as sa:
            with connect(("127.0.0.1", port)) as s:
                s.sendall(b"plain")
                self.assertEqual(recv_exactly(s, 5), b"plain")
            self.assertEqual(sa.stop(), 0)

    def test_unknown_name_is_logged_and_ignored(self):
        echo_port, other_port = free_port(), free_port()
        with Activated([echo_port, other_port], ["--fdname=echo:gopher"]) as sa:
            with connect(("127.0.0.1", echo_port)) as s:
                s.sendall(b"served")
                self.assertEqual(recv_exactly(s, 6), b"served")
            sa.notify.wait_key("READY", "1")
            self.assertEqual(sa.stop(), 0)
            self.assertIn("ignoring socket fd 4 named 'gopher'", sa.stderr())

    def test_only_unknown_names_is_an_error(self):
        port = free_port()
        with Activated([port], ["--fdname=gopher"]) as sa:
            s = connect(("127.0.0.1", port))
            status = sa.proc.wait(timeout=20)  # echod replaced the launcher and exits
            s.close()
            self.assertEqual(status, 1)
            self.assertIn("no socket to serve", sa.stderr())

    def test_accept_mode_serves_one_connection_per_process(self):
        port = free_port()
        with Activated([port], ["--accept"]) as sa:
            for i in range(3):
                with connect(("127.0.0.1", port)) as s:
                    payload = os.urandom(200000)
                    s.sendall(payload)
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(recv_exactly(s, len(payload) + 1), payload)
            # Each instance exits once its connection closes: the launcher reaps them.
            deadline = time.monotonic() + 10
            while sa.stderr().count("echod stopped") < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            log = sa.stderr()
            self.assertEqual(log.count("echod stopped: 1 connection served"), 3, log)
            sa.stop()  # the launcher itself dies of the signal; its children are gone


if __name__ == "__main__":
    main()
