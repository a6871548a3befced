"""Sockets handed over as systemd does (LISTEN_FDS), built by the test itself.

systemd-socket-activate covers the ordinary cases; here the test keeps its
own copy of the socket, so it can do what another holder of it could:
shut it down under echod, or pass a kind of socket echod does not expect.
"""

import os
import signal
import socket
import tempfile
import time
import unittest

from echotest import DaemonProcess, binary, recv_exactly, main


class Inherited(DaemonProcess):
    """echod started with one inherited socket at fd 3, named `name`."""

    def __init__(self, sock, name="echo"):
        super().__init__()
        script = 'LISTEN_PID=$$ exec "$0" --config /dev/null'
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LISTEN_FDS": "1",
               "LISTEN_FDNAMES": name, "NOTIFY_SOCKET": self.notify.path}
        for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if key in os.environ:
                env[key] = os.environ[key]
        fd = sock.fileno()

        def hand_over():
            if fd == 3:
                os.set_inheritable(3, True)
            else:
                os.dup2(fd, 3)  # the copy is inheritable
        # Python opens every descriptor close-on-exec (PEP 446), so keeping them
        # open leaks nothing; closing them would close fd 3 right after the dup.
        self.start(["/bin/sh", "-c", script, binary("echod")], env=env,
                   preexec_fn=hand_over, close_fds=False)
        self.notify.wait_key("READY", "1")

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=20), self.stderr()


class InheritedSockets(unittest.TestCase):
    def test_listener_shut_down_under_echod_is_dropped_once_without_spinning(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with listener, Inherited(listener) as daemon:
            with socket.create_connection(listener.getsockname(), timeout=10) as s:
                s.sendall(b"before")
                self.assertEqual(recv_exactly(s, 6), b"before")
            listener.shutdown(socket.SHUT_RDWR)  # another holder of the socket does this
            deadline = time.monotonic() + 10
            while "no longer serving it" not in daemon.stderr() and time.monotonic() < deadline:
                time.sleep(0.05)
            cpu = daemon.cpu_seconds()
            time.sleep(1.0)
            self.assertLess(daemon.cpu_seconds() - cpu, 0.3, "echod spins on a dead listener")
            status, log = daemon.stop()
            self.assertEqual(status, 0)
            self.assertEqual(log.count("no longer serving it"), 1, log)

    def test_unix_stream_listener_is_served_with_a_safe_peer_name(self):
        path = os.path.join(tempfile.mkdtemp(prefix="echod-unix-"), "echo.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen()
        with listener, Inherited(listener) as daemon:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:  # unnamed client
                s.settimeout(10)
                s.connect(path)
                s.sendall(b"over unix")
                self.assertEqual(recv_exactly(s, 9), b"over unix")
            status, log = daemon.stop()
            self.assertEqual(status, 0)
            self.assertIn("connect from unix port 0", log)
        os.unlink(path)
        os.rmdir(os.path.dirname(path))


if __name__ == "__main__":
    main()
