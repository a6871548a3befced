#!/usr/bin/python3
"""Chat fan-out: echod's chat, Redis pub/sub and ngIRCd side by side in one
run. N receivers (100 and 1000 by default) and one sender of ~100-byte
messages; for each server, deliveries per second, the server's CPU time per
delivered line and the delivery latency.

This script starts the servers on free 127.0.0.1 ports (each in its own
temporary directory, never as a system service), opens and logs in every
connection (echod: token logins of bench users registered once, see
bench/chatlib.py; Redis: SUBSCRIBE bench; ngIRCd: NICK, USER, JOIN #bench),
then hands them to the C client bench/chat_fanout.c (compiled here with cc),
which measures. Each measurement is two passes over the same connections:

  load: the sender keeps --window messages (32) not yet delivered to every
        receiver in flight: the server's rate, closed loop;
  ping: one message at a time (window 1): the latency of a lone message.

Servers are measured in turn, for --rounds rounds, and the round with the
median deliveries/s is kept, so load from outside falls on all alike.

--redis adds "echod-redis": its own redis-server and --nodes (3) echod nodes
on it (--chat-backend redis://...). The sender logs in on the first node and
the receivers are spread over the others, so every delivery measured crosses
Redis (XADD + PUBLISH on the sender's node, the subscription on the
receiver's). Its CPU per delivery is that of every node and Redis together.
A second table puts it beside the single-node (SQLite) echod of the same
invocation, as ratios. Its users are registered once, as for echod, in
--redis-state-dir (Redis's dump.rdb, saved at the end of each run, and
users.json). The
servers run on --server-cpu (0) and the client on --client-cpu (1), with
taskset. Server CPU is utime + stime of the whole process (/proc/PID/stat)
over the measured interval, divided by the deliveries in it.

Usage (from the source tree, after building into build/):
    /usr/bin/python3 bench/chat-fanout.py [--receivers 100,1000] [--duration 5]
        [--rounds 3] [--redis [--nodes 3]] [--markdown FILE] [--json FILE]
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import chatlib

HERE = chatlib.HERE
ROOT = chatlib.ROOT
SENDER = "fansend"


def log(text):
    print(text, file=sys.stderr, flush=True)


def build_client(build):
    """Compile the measuring client (bench/chat_fanout.c) next to the build."""
    out = os.path.join(build, "bench", "chat_fanout")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.run(["cc", "-O2", "-Wall", "-o", out,
                    os.path.join(HERE, "chat_fanout.c")], check=True)
    return out


def wait_port(port, proc, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with status %d" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on 127.0.0.1:%d" % port)


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class EchodChat:
    name = "echod"
    proto = "chat"

    def __init__(self, args, tmp):
        # Unpinned while users may have to be registered (two hashing workers),
        # then moved to the server CPU.
        self.server = chatlib.Echod(args.build, args.state_dir)
        self.pid = self.server.pid
        self.port = self.server.chat_port
        self.users = chatlib.Users(args.state_dir)
        names = [SENDER] + ["fan%d" % i for i in range(max(args.receivers))]
        self.users.ensure(self.port, names, log)
        chatlib.pin(self.pid, args.server_cpu)

    def login(self, name):
        try:
            sock, _ = chatlib.chat_login(self.port, name, token=self.users.tokens[name])
        except chatlib.LoginError as e:
            raise RuntimeError("token login failed (%s); delete the state directory %s to "
                               "register the users again" % (e, self.users.state_dir))
        return sock

    def connect(self, count):
        sender = self.login(SENDER)
        receivers = []
        for i in range(count):
            receivers.append(self.login("fan%d" % i))
            if i % 50 == 49:
                chatlib.drain(receivers + [sender])
        return sender, receivers

    def stop(self):
        self.server.stop()


class RedisPubSub:
    name = "redis"
    proto = "redis"

    def __init__(self, args, tmp):
        self.port = chatlib.free_port()
        argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
                "--save", "", "--appendonly", "no", "--dir", tmp, "--daemonize", "no",
                "--maxclients", "10000", "--logfile", os.path.join(tmp, "redis.log")]
        self.proc = subprocess.Popen(chatlib.pinned(args.server_cpu, argv),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid
        wait_port(self.port, self.proc)

    def connect(self, count):
        sender = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        receivers = []
        for i in range(count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            sock.sendall(b"SUBSCRIBE bench\r\n")
            lines = chatlib.Lines(sock)
            while lines.readline() != ":1":  # *3, $9, subscribe, $5, bench, :1
                pass
            receivers.append(sock)
        return sender, receivers

    def stop(self):
        stop(self.proc)


class Ngircd:
    name = "ngircd"
    proto = "irc"

    CONFIG = """[Global]
Name = bench.invalid
Info = chat fan-out benchmark
AdminInfo1 = bench
AdminInfo2 = bench
AdminEMail = bench@bench.invalid
MotdPhrase = bench
Listen = 127.0.0.1
Ports = {port}
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 16
PingTimeout = 600
PongTimeout = 600
# No flood penalties: the one sender publishes as fast as the window allows.
MaxPenaltyTime = 0
[Options]
DNS = no
Ident = no
PAM = no
"""

    def __init__(self, args, tmp):
        self.port = chatlib.free_port()
        conf = os.path.join(tmp, "ngircd.conf")
        with open(conf, "w") as f:
            f.write(self.CONFIG.format(port=self.port))
        self.proc = subprocess.Popen(chatlib.pinned(args.server_cpu,
                                                    ["ngircd", "--nodaemon", "-f", conf]),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid
        wait_port(self.port, self.proc)

    def join(self, nick):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(("NICK %s\r\nUSER %s 0 * :bench\r\nJOIN #bench\r\n"
                      % (nick, nick)).encode())
        lines = chatlib.Lines(sock)
        while True:
            line = lines.readline()
            if line.startswith("PING "):
                sock.sendall(b"PONG " + line[5:].encode() + b"\r\n")
            parts = line.split(" ")
            if len(parts) > 1 and parts[1] == "366":  # end of NAMES: joined
                return sock
            if len(parts) > 1 and parts[1] in ("432", "433", "471", "473", "474", "475"):
                raise RuntimeError("ngircd refused %s: %s" % (nick, line))
            if line.startswith("ERROR"):
                raise RuntimeError("ngircd: %s" % line)

    def connect(self, count):
        sender = self.join("fansend")
        receivers = []
        for i in range(count):
            receivers.append(self.join("fan%d" % i))
            if i % 50 == 49:
                chatlib.drain(receivers + [sender])
        return sender, receivers

    def stop(self):
        stop(self.proc)


class EchodRedis:
    """Several echod nodes sharing one chat through their own redis-server."""

    name = "echod-redis"
    proto = "chat"

    def __init__(self, args, tmp):
        self.dir = args.redis_state_dir
        os.makedirs(self.dir, exist_ok=True)
        self.port = chatlib.free_port()
        # No automatic snapshots (nothing on disk during a pass); the users
        # are kept by the SAVE in stop() and loaded from dump.rdb at start.
        argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
                "--save", "", "--appendonly", "no", "--dir", self.dir,
                "--dbfilename", "dump.rdb", "--daemonize", "no", "--maxclients", "10000",
                "--logfile", os.path.join(tmp, "redis.log")]
        self.redis = subprocess.Popen(chatlib.pinned(args.server_cpu, argv),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.redis)
        url = "redis://127.0.0.1:%d" % self.port
        self.nodes = []
        try:
            for i in range(args.nodes):
                self.nodes.append(chatlib.Echod(args.build, os.path.join(tmp, "node%d" % i),
                                                extra=("--chat-backend", url)))
            self.users = chatlib.Users(self.dir)
            names = [SENDER] + ["fan%d" % i for i in range(max(args.receivers))]
            self.users.ensure(self.nodes[0].chat_port, names, log)
        except BaseException:
            self.stop()
            raise
        for node in self.nodes:
            chatlib.pin(node.pid, args.server_cpu)
        self.pids = [node.pid for node in self.nodes] + [self.redis.pid]
        self.pid = self.pids[0]

    def login(self, node, name):
        try:
            sock, _ = chatlib.chat_login(node.chat_port, name, token=self.users.tokens[name])
        except chatlib.LoginError as e:
            raise RuntimeError("token login failed (%s); delete %s to register the users "
                               "again" % (e, self.dir))
        return sock

    def connect(self, count):
        """The sender on the first node, the receivers round robin on the others."""
        sender = self.login(self.nodes[0], SENDER)
        others = self.nodes[1:] or self.nodes
        receivers = []
        for i in range(count):
            receivers.append(self.login(others[i % len(others)], "fan%d" % i))
            if i % 50 == 49:
                chatlib.drain(receivers + [sender])
        return sender, receivers

    def stop(self):
        for node in self.nodes:
            node.stop()
        if self.redis.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=60) as s:
                    s.sendall(b"*1\r\n$4\r\nSAVE\r\n")
                    chatlib.Lines(s).readline(60)
            except (OSError, chatlib.LoginError) as e:
                log("redis SAVE failed (%s): the next run registers the users again" % e)
        stop(self.redis)


KINDS = {"echod": EchodChat, "redis": RedisPubSub, "ngircd": Ngircd, "echod-redis": EchodRedis}


def run_client(client, args, server, sender, receivers, window):
    fds = [s.fileno() for s in receivers]
    argv = chatlib.pinned(args.client_cpu, [
        client, "--proto", server.proto, "--sender", str(sender.fileno()),
        "--receivers", ",".join(map(str, fds)),
        "--server-pid", ",".join(map(str, getattr(server, "pids", [server.pid]))),
        "--size", str(args.size), "--window", str(window),
        "--warmup", "%g" % args.warmup, "--duration", "%g" % args.duration,
        "--stall", "%g" % args.stall])
    result = subprocess.run(argv, pass_fds=fds + [sender.fileno()], capture_output=True,
                            timeout=args.warmup + args.duration + args.stall + 60)
    if not result.stdout.strip():
        raise RuntimeError("chat_fanout failed: %s" % result.stderr.decode(errors="replace"))
    report = json.loads(result.stdout)
    report["exit_status"] = result.returncode
    return report


def measure(args):
    client = build_client(args.build)
    servers = []
    results = []
    tmp = tempfile.mkdtemp(prefix="chat-fanout-")
    try:
        for name in args.servers:
            work = os.path.join(tmp, name)
            os.makedirs(work)
            servers.append(KINDS[name](args, work))
        for count in args.receivers:
            conns = {}
            for server in servers:
                started = time.monotonic()
                conns[server.name] = server.connect(count)
                log("%-11s %5d receivers connected and logged in in %.1f s"
                    % (server.name, count, time.monotonic() - started))
            rounds = {(s.name, p): [] for s in servers for p in ("load", "ping")}
            for _ in range(args.rounds):
                for server in servers:
                    sender, receivers = conns[server.name]
                    for phase, window in (("load", args.window), ("ping", 1)):
                        report = run_client(client, args, server, sender, receivers, window)
                        report.update(server=server.name, phase=phase)
                        rounds[(server.name, phase)].append(report)
                        log("%-11s %5d rcv %s: %9.0f deliveries/s  %6.3f us CPU/delivery  "
                            "p50 %7.0f us  p99 %7.0f us  lost %d%s"
                            % (server.name, count, phase, report["deliveries_per_s"],
                               report["cpu_us_per_delivery"], report["latency_us"]["p50"],
                               report["latency_us"]["p99"], report["lost"],
                               "  STALLED (%d receivers behind, %d disconnects, %d sender errors)"
                               % (report["receivers_behind"], report["disconnects"],
                                  report["sender_errors"]) if report["stalled"] else ""))
            for server in servers:
                for phase in ("load", "ping"):
                    runs = sorted(rounds[(server.name, phase)],
                                  key=lambda r: r["deliveries_per_s"])
                    best = dict(runs[len(runs) // 2])
                    best["rounds_deliveries_per_s"] = [
                        r["deliveries_per_s"] for r in rounds[(server.name, phase)]]
                    best["rounds"] = rounds[(server.name, phase)]
                    results.append(best)
            for sender, receivers in conns.values():
                for sock in receivers + [sender]:
                    sock.close()
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def markdown(results, args):
    lines = ["| receivers | server | deliveries/s | messages/s | server CPU/delivery "
             "| p50 | p99 | p99.9 | 1-message p50 | 1-message p99 | deliveries/s vs echod "
             "| CPU vs echod |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    get = {(r["receivers"], r["server"], r["phase"]): r for r in results}
    for count in args.receivers:
        ref = get.get((count, "echod", "load"))
        for name in args.servers:
            load, ping = get.get((count, name, "load")), get.get((count, name, "ping"))
            if not load or not ping:
                continue
            bad = "" if not (load["lost"] or load["stalled"] or ping["lost"]) else \
                " (lost %d)" % (load["lost"] + ping["lost"])
            lines.append(
                "| %d | %s | %.0f%s | %.0f | %.3f us | %.0f us | %.0f us | %.0f us | %.0f us "
                "| %.0f us | %s | %s |" % (
                    count, name, load["deliveries_per_s"], bad, load["messages_per_s"],
                    load["cpu_us_per_delivery"], load["latency_us"]["p50"],
                    load["latency_us"]["p99"], load["latency_us"]["p99.9"],
                    ping["latency_us"]["p50"], ping["latency_us"]["p99"],
                    "%.2fx" % (load["deliveries_per_s"] / ref["deliveries_per_s"]) if ref else "-",
                    "%.2fx" % (load["cpu_us_per_delivery"] / ref["cpu_us_per_delivery"])
                    if ref and ref["cpu_us_per_delivery"] else "-"))
    table = "\n".join(lines) + "\n"
    if "echod" in args.servers and "echod-redis" in args.servers:
        table += "\n" + nodes_markdown(get, args)
    return table


def nodes_markdown(get, args):
    """echod-redis beside the single-node echod of the same run, as ratios."""
    lines = ["| receivers | setup | messages/s | deliveries/s | p50 | p99 | 1-message p50 "
             "| 1-message p99 | messages/s vs one node | 1-message p50 vs one node "
             "| 1-message p99 vs one node |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def ratio(a, b):
        return "%.2fx" % (a / b) if b else "-"
    for count in args.receivers:
        one = (get.get((count, "echod", "load")), get.get((count, "echod", "ping")))
        many = (get.get((count, "echod-redis", "load")), get.get((count, "echod-redis", "ping")))
        if not all(one + many):
            continue
        for label, (load, ping) in (("one node, SQLite", one),
                                    ("%d nodes, Redis" % args.nodes, many)):
            lines.append("| %d | %s | %.0f | %.0f | %.0f us | %.0f us | %.0f us | %.0f us "
                         "| %s | %s | %s |" % (
                             count, label, load["messages_per_s"], load["deliveries_per_s"],
                             load["latency_us"]["p50"], load["latency_us"]["p99"],
                             ping["latency_us"]["p50"], ping["latency_us"]["p99"],
                             ratio(load["messages_per_s"], one[0]["messages_per_s"]),
                             ratio(ping["latency_us"]["p50"], one[1]["latency_us"]["p50"]),
                             ratio(ping["latency_us"]["p99"], one[1]["latency_us"]["p99"])))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--state-dir", default=None,
                        help="echod state with the registered bench users "
                             "(default BUILD/bench/chat-state)")
    parser.add_argument("--receivers", type=lambda s: [int(x) for x in s.split(",")],
                        default=[100, 1000])
    parser.add_argument("--servers", type=lambda s: s.split(","),
                        default=["echod", "redis", "ngircd"])
    parser.add_argument("--size", type=int, default=100, help="bytes of text per message")
    parser.add_argument("--window", type=int, default=32,
                        help="messages in flight in the load pass")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per pass")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before each pass")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stall", type=float, default=10.0,
                        help="give up a pass when no message completes this long (seconds)")
    parser.add_argument("--redis", action="store_true",
                        help="also measure echod-redis: --nodes echod nodes on their own "
                             "redis-server, beside the single-node echod")
    parser.add_argument("--nodes", type=int, default=3,
                        help="echod nodes of echod-redis (the sender on the first, the "
                             "receivers on the others)")
    parser.add_argument("--redis-state-dir", default=None,
                        help="Redis data and tokens of echod-redis's bench users "
                             "(default BUILD/bench/chat-redis-state)")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--json", help="write the raw results to this file")
    parser.add_argument("--markdown", help="write the table to this file")
    args = parser.parse_args()
    if args.state_dir is None:
        args.state_dir = os.path.join(args.build, "bench", "chat-state")
    if args.redis_state_dir is None:
        args.redis_state_dir = os.path.join(args.build, "bench", "chat-redis-state")
    if args.redis and "echod-redis" not in args.servers:
        args.servers.append("echod-redis")
    if "echod-redis" in args.servers and not 1 <= args.nodes <= 15:
        parser.error("--nodes: 1 to 15")
    for name in args.servers:
        if name not in KINDS:
            parser.error("unknown server %r (echod, redis, ngircd, echod-redis)" % name)
    if max(args.receivers) > 4000:
        parser.error("at most 4000 receivers")

    results = measure(args)
    table = markdown(results, args)
    sys.stdout.write(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
