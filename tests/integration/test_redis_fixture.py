#!/usr/bin/env python3
"""The RedisServer fixture (tests/lib/redistest.py) on its own: start, PING,
stop, restart on the same port, kill. It needs no echod, so it runs before
the Redis backend exists and tells a broken fixture from a broken backend."""

import socket
import unittest

import echotest
import redistest


class TestRedisServer(unittest.TestCase):

    def test_start_url_call_restart_kill(self):
        with redistest.RedisServer() as redis:
            self.assertRegex(redis.url, r"^redis://127\.0\.0\.1:\d+$")
            self.assertEqual(redis.url, "redis://127.0.0.1:%d" % redis.port)
            self.assertEqual(redis.call("PING"), "PONG")
            self.assertEqual(redis.call("SET", "k", "v"), "OK")
            self.assertEqual(redis.call("GET", "k"), b"v")
            port = redis.port
            # A client connected across a restart sees its connection end.
            held = socket.create_connection(redis.address, timeout=10)
            redis.restart()
            self.assertEqual(redis.port, port, "restart() keeps the port")
            held.settimeout(10)
            try:
                self.assertEqual(held.recv(1), b"")
            except ConnectionResetError:
                pass
            held.close()
            self.assertEqual(redis.call("GET", "k"), None, "no persistence across a restart")
            redis.kill()
            self.assertFalse(redis.running())
            self.assertTrue(echotest.connection_refused(redis.address))
            redis.start()
            self.assertEqual(redis.port, port)
            self.assertEqual(redis.call("PING"), "PONG")
            self.assertEqual(redis.stop(), 0)
            self.assertTrue(echotest.connection_refused(redis.address))

    def test_two_servers_get_two_ports(self):
        with redistest.RedisServer() as a, redistest.RedisServer() as b:
            self.assertNotEqual(a.port, b.port)
            self.assertNotEqual(a.dir, b.dir)
            a.call("SET", "only", "a")
            self.assertIsNone(b.call("GET", "only"))

    def test_unix_socket(self):
        with redistest.RedisServer(unix=True) as redis:
            self.assertEqual(redis.unix_url, "unix:" + redis.socket_path)
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(10)
                s.connect(redis.socket_path)
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                self.assertEqual(s.recv(100), b"+PONG\r\n")

    def test_errors_are_raised(self):
        with redistest.RedisServer() as redis:
            with self.assertRaises(redistest.RedisError):
                redis.call("NOSUCHCOMMAND")


if __name__ == "__main__":
    redistest.require_redis()
    echotest.main()
