"""sd_notify never stalls echod: a notify socket nobody reads (its queue
holds about ten datagrams) must not freeze the loop."""

import signal
import socket
import unittest

from echotest import Echod, connect, recv_exactly, main


class NotifySocketNobodyReads(unittest.TestCase):
    def test_echo_goes_on_while_the_notify_socket_is_full(self):
        daemon = Echod(["--echo", "127.0.0.1:0"])
        try:
            # READY has been read; from now on nobody reads the notify socket.
            # Each SIGHUP sends RELOADING=1 and READY=1: thirty fill its queue
            # several times over.
            for i in range(30):
                daemon.proc.send_signal(signal.SIGHUP)
                with connect(daemon.address()) as s:
                    payload = b"after reload %d\n" % i
                    s.sendall(payload)
                    self.assertEqual(recv_exactly(s, len(payload)), payload,
                                     "echo stalled after %d reloads" % (i + 1))
        finally:
            code, stderr = daemon.stop()
        self.assertEqual(code, 0, stderr)


if __name__ == "__main__":
    main()
