"""echocat through a pseudo-terminal (prompts, defaults, re-asking, exit) and
through pipes (binary data, large input, half-close, refused and broken
connections, timeouts, UDP, IPv6)."""

import os
import pty
import select
import signal
import socket
import subprocess
import threading
import time
import unittest

import echotest
from echoservers import EchoServer, TestServer

ECHOCAT = echotest.binary("echocat")


def run_piped(args, data, timeout=60):
    return subprocess.run([ECHOCAT] + list(args), input=data, capture_output=True,
                          timeout=timeout)


class Terminal:
    """echocat on a pseudo-terminal, read like `expect` does."""

    def __init__(self, args):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([ECHOCAT] + list(args), stdin=slave, stdout=slave,
                                     stderr=slave, close_fds=True, start_new_session=True)
        os.close(slave)
        self.seen = b""

    def expect(self, text, timeout=10.0):
        """Wait until text appears after what earlier expects consumed."""
        needle = text.encode()
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("did not see %r; terminal shows %r" % (text, self.seen))
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    data = os.read(self.master, 4096)
                except OSError:
                    data = b""
                if not data:
                    raise AssertionError("echocat ended before %r; terminal shows %r"
                                         % (text, self.seen))
                self.seen += data
        index = self.seen.index(needle) + len(needle)
        before, self.seen = self.seen[:index], self.seen[index:]
        return before.decode(errors="replace")

    def type(self, text):
        os.write(self.master, text.encode())

    def wait(self, timeout=10.0):
        try:
            return self.proc.wait(timeout)
        finally:
            os.close(self.master)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            os.close(self.master)


class TerminalTests(unittest.TestCase):
    def setUp(self):
        self.server = EchoServer()
        self.host, self.port = self.server.tcp

    def tearDown(self):
        self.server.close()

    def start(self, *args):
        term = Terminal(args)
        self.addCleanup(term.close)
        return term

    def test_prompts_show_defaults_and_empty_host_means_localhost(self):
        term = self.start()
        term.expect("Host [localhost]: ")
        term.type("\n")
        term.expect("Port [7007]: ")
        term.type("%d\n" % self.port)
        term.type("hello over a terminal\n")
        # The terminal shows the typed line, then the echo comes back.
        term.expect("hello over a terminal")
        term.expect("hello over a terminal")
        term.type("exit\n")
        self.assertEqual(term.wait(), 0)

    def test_empty_port_takes_the_default(self):
        try:
            server = TestServer("echo", port=7007)
        except OSError:
            self.skipTest("port 7007 is taken on this machine")
        self.addCleanup(server.close)
        term = self.start("127.0.0.1")
        term.expect("Port [7007]: ")
        term.type("\n")
        term.type("on the default port\n")
        term.expect("on the default port")
        term.expect("on the default port")
        term.type("exit\n")
        self.assertEqual(term.wait(), 0)

    def test_bad_port_is_refused_with_a_reason_and_asked_again(self):
        term = self.start(self.host)
        term.expect("Port [7007]: ")
        term.type("seventy\n")
        term.expect("the port must be a number from 1 to 65535; try again.")
        term.expect("Port [7007]: ")
        term.type("70000\n")
        term.expect("the port must be a number from 1 to 65535; try again.")
        term.expect("Port [7007]: ")
        term.type("%d\n" % self.port)
        term.type("finally\n")
        term.expect("finally")
        term.expect("finally")
        term.type("exit\n")
        self.assertEqual(term.wait(), 0)

    def test_bad_host_is_refused_and_an_unknown_one_asked_again(self):
        term = self.start()
        term.expect("Host [localhost]: ")
        term.type("two words\n")
        term.expect("a host name has no spaces; try again.")
        term.expect("Host [localhost]: ")
        term.type("no-such-host.invalid\n")
        # The name is resolved before the port is asked: no port is asked for a bad host.
        shown = term.expect("Host [localhost]: ")
        self.assertIn("cannot resolve 'no-such-host.invalid'", shown)
        self.assertNotIn("Port", shown)
        term.type("%s\n" % self.host)
        term.expect("Port [7007]: ")
        term.type("%d\n" % self.port)
        term.type("found it\n")
        term.expect("found it")
        term.expect("found it")
        term.type("exit\n")
        self.assertEqual(term.wait(), 0)

    def test_exit_at_the_host_prompt_ends_echocat(self):
        term = self.start()
        term.expect("Host [localhost]: ")
        term.type("exit\n")
        self.assertEqual(term.wait(), 0)

    def test_exit_at_the_port_prompt_ends_echocat(self):
        term = self.start(self.host)
        term.expect("Port [7007]: ")
        term.type("exit\n")
        self.assertEqual(term.wait(), 0)

    def test_verbose_prints_every_event_until_exit(self):
        term = self.start("-v", self.host, str(self.port))
        term.expect("connecting to %s:%d (tcp)" % (self.host, self.port))
        term.expect("connected to %s:%d from 127.0.0.1:" % (self.host, self.port))
        term.type("ping\n")
        term.expect("sent 5 bytes")
        term.expect("received 5 bytes")
        term.type("  exit \n")
        term.expect("connection closed by user")
        self.assertEqual(term.wait(), 0)

    def test_end_of_input_ends_the_session(self):
        term = self.start(self.host, str(self.port))
        term.type("one\n")
        term.expect("one")
        term.expect("one")
        term.type("\x04")  # Ctrl-D on an empty line: end of input.
        self.assertEqual(term.wait(), 0)

    def test_partial_last_line_is_sent_at_end_of_input(self):
        term = self.start(self.host, str(self.port))
        term.type("abc")
        time.sleep(0.3)
        # Ctrl-D after text hands the text over; a second one is end of input.
        term.type("\x04")
        time.sleep(0.3)
        term.type("\x04")
        term.expect("abc")  # what the terminal showed while typing
        # The echo, then a newline of echocat's, so the shell's prompt starts a line of its own.
        term.expect("abc\r\n")
        self.assertEqual(term.wait(), 0)

    def test_server_closing_with_nothing_due_is_a_normal_end(self):
        with TestServer("echo_once") as server:
            host, port = server.address()
            term = self.start(host, str(port))
            term.type("abc\n")
            term.expect("abc")
            term.expect("abc")
            before = term.expect("connection closed by the server")
            self.assertNotIn("bytes came back", before)
            self.assertEqual(term.wait(), 0)

    def test_a_lone_number_is_not_taken_as_a_host(self):
        term = self.start()
        term.expect("Host [localhost]: ")
        term.type("%d\n" % self.port)
        term.expect("is a number, not a host (is it the port?)")
        term.expect("Host [localhost]: ")
        term.type("127.0.0.1\n")
        term.expect("Port [7007]: ")
        term.type("%d\n" % self.port)
        term.type("found\n")
        term.expect("found")
        term.expect("found")
        term.type("exit\n")
        self.assertEqual(term.wait(), 0)

    def test_peer_closing_is_reported(self):
        with TestServer("close") as server:
            host, port = server.address()
            term = self.start(host, str(port))
            term.type("anyone there?\n")
            term.expect("connection closed by peer")
            self.assertEqual(term.wait(), 1)


class PeerRecordingServer:
    """An echo server on 127.0.0.1 that records the address of each client."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.address = self.listener.getsockname()
        self.peers = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, peer = self.listener.accept()
            except OSError:
                return
            self.peers.append(peer)
            with conn:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    conn.sendall(data)

    def close(self):
        self.listener.close()


class NetcatOptions(unittest.TestCase):
    """-z, -s, -p and -q, as netcat-openbsd users type them."""

    def test_zero_io_reports_an_open_port_with_status_0_and_sends_nothing(self):
        with TestServer("echo") as server:
            host, port = server.address()
            result = run_piped(["-z", host, str(port)], b"never sent")
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(result.stdout, b"")
            self.assertEqual(result.stderr, b"")
            result = run_piped(["-z", "-v", host, str(port)], b"")
            self.assertIn(b"connection to %s port %d [tcp] succeeded" % (host.encode(), port),
                          result.stderr)

    def test_zero_io_reports_a_closed_port_with_status_1(self):
        # A port of our own that nobody listens on: surely closed.
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        self.addCleanup(closed.close)
        result = run_piped(["-z", "127.0.0.1", str(closed.getsockname()[1])], b"")
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"Connection refused", result.stderr)

    def test_source_address_and_port_are_the_ones_the_server_sees(self):
        server = PeerRecordingServer()
        self.addCleanup(server.close)
        # A free port of our own for the source: bound, then released.
        probe = socket.socket()
        probe.bind(("127.0.0.2", 0))
        source_port = probe.getsockname()[1]
        probe.close()
        host, port = server.address
        result = run_piped(["-s", "127.0.0.2", "-p", str(source_port), host, str(port)], b"hi\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, b"hi\n")
        self.assertEqual(server.peers, [("127.0.0.2", source_port)])
        result = run_piped(["-s", "127.0.0.3", host, str(port)], b"again\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(server.peers[1][0], "127.0.0.3")

    def test_quit_after_eof_ends_a_session_whose_echo_never_comes(self):
        # This server reads nothing and never closes: no echo, no end.
        with TestServer("stall") as server:
            host, port = server.address()
            start = time.monotonic()
            # Without -q the 30 s echo timeout would end it, with status 1.
            result = run_piped(["-q", "0.2", "-w", "30", "-v", host, str(port)], b"into the void\n")
            elapsed = time.monotonic() - start
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertLess(elapsed, 20)
        self.assertIn(b"quit 0.2 s after end of input (-q), 0 of 14 bytes came back", result.stderr)

    def test_quit_after_eof_does_not_hold_a_finished_session(self):
        with TestServer("echo") as server:
            host, port = server.address()
            start = time.monotonic()
            result = run_piped(["-q", "60", host, str(port)], b"back at once\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, b"back at once\n")
        self.assertLess(time.monotonic() - start, 30)

    def test_ctrl_c_prints_the_summary_and_exits_130(self):
        with TestServer("stall") as server:
            host, port = server.address()
            proc = subprocess.Popen([ECHOCAT, "-v", host, str(port)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.addCleanup(proc.kill)
            proc.stdin.write(b"waiting\n")
            proc.stdin.flush()
            # Wait until it is connected (its -v line) before interrupting.
            while True:
                line = proc.stderr.readline()
                self.assertNotEqual(line, b"", "echocat ended before it sent anything")
                if b"sent 8 bytes" in line:
                    break
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn(b"8 bytes sent, 0 bytes received in", err)
        self.assertIn(b"echocat: interrupted\n", err)

    def test_bad_netcat_options_exit_2(self):
        for args in (["-p", "0", "h", "1"], ["-q", "soon", "h", "1"], ["-s", "", "h", "1"]):
            result = run_piped(args, b"")
            self.assertEqual(result.returncode, 2, args)
            self.assertTrue(result.stderr.startswith(b"echocat: "), result.stderr)


class PipeTests(unittest.TestCase):
    def setUp(self):
        self.server = EchoServer()
        self.host, self.port = self.server.tcp

    def tearDown(self):
        self.server.close()

    def test_binary_data_comes_back_unchanged(self):
        data = bytes(range(256)) * 64 + b"\0\r\n\xff" * 100
        result = run_piped([self.host, str(self.port)], data)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, data)
        self.assertEqual(result.stderr, b"")

    def test_several_mebibytes_come_back_whole(self):
        data = os.urandom(6 << 20)
        result = run_piped([self.host, str(self.port)], data)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(len(result.stdout), len(data))
        self.assertTrue(result.stdout == data)

    def test_input_from_a_regular_file(self):
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "echocat-test-%d" % os.getpid())
        data = os.urandom(300000)
        with open(path, "wb") as f:
            f.write(data)
        self.addCleanup(os.unlink, path)
        with open(path, "rb") as f:
            result = subprocess.run([ECHOCAT, self.host, str(self.port)], stdin=f,
                                    capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(result.stdout == data)

    def test_empty_input_exits_cleanly(self):
        result = run_piped([self.host, str(self.port)], b"")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, b"")

    def test_half_close_lets_a_server_answer_after_end_of_input(self):
        # This server echoes nothing until it sees end of input: without a
        # half-close echocat would wait for ever.
        with TestServer("echo_after_eof") as server:
            host, port = server.address()
            data = b"sent before the half-close\n" * 1000
            result = run_piped(["-v", host, str(port)], data)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, data)
        self.assertIn(b"write side shut down", result.stderr)

    def test_verbose_counts_bytes_both_ways(self):
        result = run_piped(["-v", self.host, str(self.port)], b"12345678\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(b"sent 9 bytes", result.stderr)
        self.assertIn(b"received 9 bytes", result.stderr)
        self.assertRegex(result.stderr, rb"\necho" rb"cat: 9 bytes sent, 9 bytes received in "
                         rb"[0-9]+\.[0-9]{2} seconds \([0-9]+\.[0-9] bytes/s\)\.\n")

    def test_input_is_not_read_while_the_server_does_not_read(self):
        # The server reads nothing. echocat must stop reading its input once
        # its bounded buffer and the kernel's socket buffers are full, so
        # our writes to its stdin block long before the 256 MiB on offer.
        with TestServer("stall") as server:
            host, port = server.address()
            proc = subprocess.Popen([ECHOCAT, "--timeout", "0", host, str(port)],
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
            self.addCleanup(proc.wait)
            self.addCleanup(proc.kill)
            fd = proc.stdin.fileno()
            os.set_blocking(fd, False)
            chunk = b"\x5a" * 65536
            written = 0
            while written < 256 << 20:
                # Stuck for two seconds in a row means echocat stopped reading.
                _, ready, _ = select.select([], [fd], [], 2.0)
                if not ready:
                    break
                try:
                    written += os.write(fd, chunk)
                except BlockingIOError:
                    pass
            self.assertLess(written, 64 << 20, "echocat kept reading input nobody took")
            with open("/proc/%d/status" % proc.pid) as f:
                rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            self.assertLess(rss, 32 * 1024, "echocat holds %d KiB" % rss)
            self.assertIsNone(proc.poll())

    def test_refused_connection_fails_with_a_clear_message(self):
        port = echotest.free_port()
        result = run_piped(["127.0.0.1", str(port)], b"hello\n")
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"cannot connect to 127.0.0.1 port %d: Connection refused" % port,
                      result.stderr)

    def test_server_closing_early_is_an_error(self):
        with TestServer("close") as server:
            host, port = server.address()
            result = run_piped([host, str(port)], b"x" * 100000)
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"connection closed by peer after 0 of", result.stderr)

    def test_reset_connection_is_an_error(self):
        with TestServer("reset") as server:
            host, port = server.address()
            # Keep input open: echocat must notice the reset by itself.
            proc = subprocess.Popen([ECHOCAT, host, str(port)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            proc.stdin.write(b"hello\n")
            proc.stdin.flush()
            out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(b"Connection reset by peer", err)

    def test_missing_echo_times_out(self):
        with TestServer("swallow") as server:
            host, port = server.address()
            # Input stays open, so the server never sees an end and never closes.
            proc = subprocess.Popen([ECHOCAT, "--timeout", "300ms", host, str(port)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            proc.stdin.write(b"into the void\n")
            proc.stdin.flush()
            proc.wait(timeout=30)
            err = proc.stderr.read()
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                pipe.close()
        self.assertEqual(proc.returncode, 1)
        self.assertIn(b"timed out waiting for the echo (0 of 14 bytes came back)", err)

    def test_timeout_holds_while_input_keeps_flowing(self):
        # The server takes everything and answers nothing; input never pauses.
        with TestServer("swallow") as server, open("/dev/zero", "rb") as zero:
            host, port = server.address()
            start = time.monotonic()
            result = subprocess.run([ECHOCAT, "-w", "1", host, str(server.address()[1])],
                                    stdin=zero, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(b"timed out waiting for the echo", result.stderr)
        self.assertLess(time.monotonic() - start, 15)

    def test_closed_standard_input_is_empty_input(self):
        result = subprocess.run([ECHOCAT, self.host, str(self.port)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=30,
                                preexec_fn=lambda: os.close(0))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, b"")

    def test_closed_standard_output_discards_the_echo(self):
        result = subprocess.run([ECHOCAT, self.host, str(self.port)], input=b"x" * 1000,
                                stderr=subprocess.PIPE, timeout=30,
                                preexec_fn=lambda: os.close(1))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, b"")

    def test_a_lone_number_as_host_is_a_usage_error(self):
        result = run_piped(["38639", str(self.port)], b"x")
        self.assertEqual(result.returncode, 2)
        self.assertIn(b"'38639' is a number, not a host", result.stderr)

    def test_closed_output_is_reported(self):
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            result = subprocess.run([ECHOCAT, self.host, str(self.port)], input=b"x" * 1000,
                                    stdout=write_end, stderr=subprocess.PIPE, timeout=30)
        finally:
            os.close(write_end)
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"cannot write standard output: Broken pipe", result.stderr)

    def test_host_name_is_resolved(self):
        result = run_piped(["localhost", str(self.port), "-4"], b"by name\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, b"by name\n")

    def test_unknown_host_fails(self):
        result = run_piped(["no-such-host.invalid", "7"], b"x")
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"cannot resolve 'no-such-host.invalid'", result.stderr)

    def test_bad_arguments_exit_2(self):
        result = run_piped(["127.0.0.1", "0"], b"")
        self.assertEqual(result.returncode, 2)
        self.assertIn(b"port must be a number from 1 to 65535", result.stderr)


class UdpAndIpv6Tests(unittest.TestCase):
    def test_udp_datagrams_come_back(self):
        with EchoServer() as server:
            host, port = server.udp
            data = b"".join(b"datagram %d\n" % i for i in range(2000))
            result = run_piped(["--udp", host, str(port)], data)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, data)

    def test_udp_megabytes_are_paced_and_come_back(self):
        # Unpaced, most of this overflowed the socket queues and was lost.
        with EchoServer() as server:
            if not server.echod:
                self.skipTest("needs the real echod (started with --udp-rate 0)")
            host, port = server.udp
            data = bytes(range(256)) * (3 * 4096)
            result = run_piped(["--udp", host, str(port)], data, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr[-500:])
        self.assertEqual(len(result.stdout), len(data))
        self.assertEqual(result.stdout, data)

    def test_udp_without_a_server_is_refused(self):
        port = echotest.free_port(socket.SOCK_DGRAM)
        result = run_piped(["--udp", "127.0.0.1", str(port)], b"hello?\n")
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"Connection refused", result.stderr)

    def test_ipv6_loopback(self):
        try:
            server = TestServer("echo", host="::1")
        except OSError:
            self.skipTest("no IPv6 loopback here")
        with server:
            result = run_piped(["::1", str(server.address()[1])], b"over IPv6\n")
            bracketed = run_piped(["-6", "[::1]", str(server.address()[1])], b"again\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, b"over IPv6\n")
        self.assertEqual(bracketed.returncode, 0, bracketed.stderr)
        self.assertEqual(bracketed.stdout, b"again\n")


if __name__ == "__main__":
    echotest.main()
