"""Small echo servers, good and deliberately bad, for the tools' tests.

Each runs in a thread of the test process on an ephemeral port, so a test
can make a server misbehave in exactly one way: close early, reset, stall,
wait for end of input before echoing, or corrupt what it sends back.
"""

import os
import socket
import socketserver
import struct
import subprocess
import threading

import echotest


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


class _TCP6Server(_TCPServer):
    address_family = socket.AF_INET6


class _UDPServer(socketserver.UDPServer):
    """One thread answers every datagram, in order, as soon as it is read.

    (A thread per datagram, as ThreadingUDPServer does, made answers late on a
    busy machine, and a late answer is a lost datagram to echobench.)"""


def _echo(sock):
    while True:
        data = sock.recv(65536)
        if not data:
            break
        sock.sendall(data)


def _corrupt(sock):
    """Echo, but with the first byte of every chunk inverted."""
    while True:
        data = sock.recv(65536)
        if not data:
            break
        sock.sendall(bytes([data[0] ^ 0xFF]) + data[1:])


def _echo_after_eof(sock):
    """Read until the client half-closes, then send it all back and close."""
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            break
        chunks.append(data)
    sock.sendall(b"".join(chunks))


def _close_after_first_read(sock):
    sock.recv(65536)


def _reset_after_first_read(sock):
    sock.recv(65536)
    # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # Close here: socketserver would shut down the write side (a FIN) first.
    sock.close()


def _echo_once_and_close(sock):
    """Echo the first chunk, then close: like a server's idle timeout after an answer."""
    data = sock.recv(65536)
    if data:
        sock.sendall(data)


def _swallow(sock):
    """Read everything, answer nothing."""
    while sock.recv(65536):
        pass


def _stall(sock, stop):
    """Read nothing at all until the server is closed."""
    stop.wait(120)


BEHAVIOURS = {
    "echo": _echo,
    "corrupt": _corrupt,
    "echo_after_eof": _echo_after_eof,
    "close": _close_after_first_read,
    "reset": _reset_after_first_read,
    "swallow": _swallow,
    "echo_once": _echo_once_and_close,
    "stall": _stall,
    # UDP only: echo every datagram except the one with sequence number DROP_SEQ.
    "drop_one": _echo,
    # UDP only: answer the datagram with sequence number DROP_SEQ one byte short.
    "truncate_one": _echo,
}

# echobench starts each UDP datagram with its sequence number (8 bytes, host
# order). "drop_one" and "truncate_one" act on exactly this one, whatever the
# timing: the test decides which datagram is lost, not the scheduler.
DROP_SEQ = 100


class TestServer:
    """A TCP (or UDP) server in a thread; use as a context manager."""

    def __init__(self, behaviour="echo", udp=False, host="127.0.0.1", port=0):
        work = BEHAVIOURS[behaviour]
        self.stop = threading.Event()
        # Set once any connection has sent something: the client is running.
        self.got_data = threading.Event()
        stop, got_data = self.stop, self.got_data
        # UDP: the sequence number of every datagram received, in order.
        self.seqs = []
        self.seqs_changed = threading.Condition()
        seqs, seqs_changed = self.seqs, self.seqs_changed

        class StreamHandler(socketserver.BaseRequestHandler):
            def handle(self):
                request = self.request

                class Watched:
                    """The socket, noting when the first bytes arrive."""

                    def recv(self, n):
                        data = request.recv(n)
                        if data:
                            got_data.set()
                        return data

                    def __getattr__(self, name):
                        return getattr(request, name)

                try:
                    if behaviour == "stall":
                        work(self.request, stop)
                    else:
                        work(Watched())
                except OSError:
                    pass

        class DatagramHandler(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                seq = struct.unpack("=Q", data[:8])[0] if len(data) >= 8 else None
                with seqs_changed:
                    seqs.append(seq)
                    seqs_changed.notify_all()
                got_data.set()
                if seq == DROP_SEQ and behaviour == "drop_one":
                    return
                if seq == DROP_SEQ and behaviour == "truncate_one":
                    data = data[:-1]
                if behaviour == "corrupt" and data:
                    # The last byte: echobench keeps a sequence number in the first ones.
                    data = data[:-1] + bytes([data[-1] ^ 0xFF])
                if behaviour != "swallow":
                    try:
                        sock.sendto(data, self.client_address)
                    except OSError:
                        pass  # The server was closed while this answer was on its way.

        if udp:
            self.server = _UDPServer((host, port), DatagramHandler)
        elif ":" in host:
            self.server = _TCP6Server((host, port), StreamHandler)
        else:
            self.server = _TCPServer((host, port), StreamHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def address(self):
        host, port = self.server.server_address[:2]
        return host, port

    def wait_seqs(self, predicate, timeout=60):
        """Wait until predicate(list of sequence numbers received) holds; False on timeout."""
        with self.seqs_changed:
            return self.seqs_changed.wait_for(lambda: predicate(self.seqs), timeout)

    def close(self):
        self.stop.set()
        with self.seqs_changed:
            self.seqs_changed.notify_all()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_REAL_ECHOD = None


def real_echod_available():
    """True once echod in this tree is the real daemon (it takes --echo), not the stub."""
    global _REAL_ECHOD
    if _REAL_ECHOD is None:
        try:
            out = subprocess.run([echotest.binary("echod"), "--help"], capture_output=True,
                                 timeout=10, env={"PATH": os.environ.get("PATH", "/usr/bin")})
            _REAL_ECHOD = b"--echo" in out.stdout + out.stderr
        except (OSError, subprocess.TimeoutExpired):
            _REAL_ECHOD = False
    return _REAL_ECHOD


class EchoServer:
    """The real echod (TCP and UDP echo on loopback) when it is built, else a TestServer pair.

    .tcp and .udp are (host, port) pairs; .echod is the Echod or None.
    """

    def __init__(self):
        self.echod = None
        self._servers = []
        if real_echod_available():
            self.echod = echotest.Echod(["--echo", "127.0.0.1:0", "--echo", "udp:127.0.0.1:0",
                                        # The tests send thousands of datagrams a second.
                                        "--udp-rate", "0"])
            self.tcp = self.echod.address("tcp")
            self.udp = self.echod.address("udp")
        else:
            self._servers = [TestServer("echo"), TestServer("echo", udp=True)]
            self.tcp = self._servers[0].address()
            self.udp = self._servers[1].address()

    def close(self):
        if self.echod:
            self.echod.close()
        for server in self._servers:
            server.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
