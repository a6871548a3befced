#!/usr/bin/python3
"""Run echod, the course's asyncio echo server (plain and under uvloop) and a
Node.js `net` echo server side by side, one after the other in one run, and
measure each with echobench.

All servers run at once; for every (message size, connections) pair each is
measured in turn, for --rounds rounds, and the median round is kept, so load
from outside falls on all of them alike. For each it reports
requests/s, p99 latency, and the server's own CPU time per request (utime +
stime of the server process from /proc/PID/stat, read before and after the
run), with the ratios to echod. The server and the load generator are pinned
with taskset (by default to the same CPU: see --server-cpu). "epoll" is not
a peer but the floor: the plainest epoll echo loop in C (bench/epoll_echo.c).

Usage (from the source tree, after building into build/):
    /usr/bin/python3 bench/compare.py [--duration 5] [--markdown FILE]
"""

import argparse
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LISTEN_RE = re.compile(rb"listening echo/tcp (\S+):(\d+)")
TICKS = os.sysconf("SC_CLK_TCK")


def build_epoll_echo(build):
    """Compile the bare epoll reference server (bench/epoll_echo.c) next to the build."""
    out = os.path.join(build, "bench", "epoll_echo")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.run(["cc", "-D_GNU_SOURCE", "-O2", "-o", out,
                    os.path.join(HERE, "epoll_echo.c")], check=True)
    return out


def server_commands(build, names):
    python = "/usr/bin/python3"
    return {
        "epoll": [build_epoll_echo(build)] if "epoll" in names else None,
        "echod": [os.path.join(build, "programs", "echod"), "--config", "/dev/null",
                  "--echo", "127.0.0.1:0"],
        "asyncio": [python, os.path.join(HERE, "asyncio_echo.py"), "127.0.0.1", "0"],
        "uvloop": [python, os.path.join(HERE, "asyncio_echo.py"), "--uvloop", "127.0.0.1", "0"],
        "node": ["node", os.path.join(HERE, "node_echo.js"), "127.0.0.1", "0"],
    }


def pinned(cpu, argv):
    if cpu is None or not shutil.which("taskset"):
        return argv
    return ["taskset", "-c", str(cpu)] + argv


class Server:
    def __init__(self, name, argv, cpu):
        self.name = name
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        self.proc = subprocess.Popen(pinned(cpu, argv), stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        self.port = self._wait_listening()

    def _wait_listening(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        seen = b""
        fd = self.proc.stdout.fileno()
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], deadline - time.monotonic())
            if not ready:
                continue
            data = os.read(fd, 4096)
            if not data:
                break
            seen += data
            m = LISTEN_RE.search(seen)
            if m:
                return int(m.group(2))
        self.stop()
        raise RuntimeError("%s did not say where it listens (output %r)" % (self.name, seen))

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            # The command name may hold spaces; the fields after it are fixed.
            fields = f.read().rsplit(")", 1)[1].split()
        # utime and stime are fields 14 and 15 of the whole line.
        return (int(fields[11]) + int(fields[12])) / TICKS

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_echobench(echobench, cpu, port, size, conns, duration):
    argv = pinned(cpu, [echobench, "--json", "-c", str(conns), "-s", str(size), "-d",
                        "%gs" % duration, "127.0.0.1", str(port)])
    result = subprocess.run(argv, capture_output=True, timeout=duration + 60)
    if not result.stdout.strip():
        raise RuntimeError("echobench failed: %s" % result.stderr.decode(errors="replace"))
    report = json.loads(result.stdout)
    report["exit_status"] = result.returncode
    return report


def measure_once(server, echobench, cpu, size, conns, duration):
    before = server.cpu_seconds()
    report = run_echobench(echobench, cpu, server.port, size, conns, duration)
    used = server.cpu_seconds() - before
    return {
        "server": server.name, "size": size, "connections": conns,
        "requests_per_s": report["requests_per_s"],
        "mib_per_s": report["mib_per_s"],
        "p99_us": report["latency_ns"]["p99"] / 1000.0,
        "cpu_us_per_request": used / max(report["requests"], 1) * 1e6,
        "server_cpu_s": used,
        "mismatches": report["mismatches"], "errors": report["errors"],
    }


def measure(args):
    """Every server runs at once (idle ones cost nothing); each configuration
    is measured on each server in turn, for several rounds, so that load from
    outside (other users of the machine) falls on all servers alike. The
    round with the median requests/s is kept for each server and
    configuration."""
    commands = server_commands(args.build, args.servers)
    echobench = os.path.join(args.build, "programs", "echobench")
    servers = []
    results = []
    try:
        for name in args.servers:
            servers.append(Server(name, commands[name], args.server_cpu))
        # Warm up (JITs, allocators, page cache) before anything is counted.
        for server in servers:
            run_echobench(echobench, args.client_cpu, server.port, 1024, 10, 1.0)
        for size in args.sizes:
            for conns in args.connections:
                rounds = {server.name: [] for server in servers}
                for _ in range(args.rounds):
                    for server in servers:
                        rounds[server.name].append(measure_once(
                            server, echobench, args.client_cpu, size, conns, args.duration))
                for server in servers:
                    runs = sorted(rounds[server.name], key=lambda r: r["requests_per_s"])
                    best = dict(runs[len(runs) // 2])
                    best["rounds_requests_per_s"] = [r["requests_per_s"] for r in
                                                     rounds[server.name]]
                    results.append(best)
                    print("%-8s %6d B %4d conns: %9.0f req/s  p99 %8.1f us  %6.2f us CPU/req"
                          "  (rounds: %s)"
                          % (server.name, size, conns, best["requests_per_s"], best["p99_us"],
                             best["cpu_us_per_request"],
                             " ".join("%.0f" % x for x in best["rounds_requests_per_s"])),
                          file=sys.stderr, flush=True)
    finally:
        for server in servers:
            server.stop()
    return results


def markdown(results, args):
    lines = []
    base = {(r["size"], r["connections"]): r for r in results if r["server"] == "echod"}
    lines.append("| size | conns | server | requests/s | MiB/s | p99 | server CPU/request "
                 "| req/s vs echod | CPU/req vs echod |")
    lines.append("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        for conns in args.connections:
            for r in results:
                if r["size"] != size or r["connections"] != conns:
                    continue
                ref = base.get((size, conns))
                if ref:
                    speed = "%.2fx" % (r["requests_per_s"] / ref["requests_per_s"])
                    cpu = "%.2fx" % (r["cpu_us_per_request"] / ref["cpu_us_per_request"]) \
                        if ref["cpu_us_per_request"] else "-"
                else:
                    speed = cpu = "-"
                bad = "" if not (r["mismatches"] or r["errors"]) else \
                    " (%d mismatches, %d errors)" % (r["mismatches"], r["errors"])
                lines.append("| %s | %d | %s | %.0f%s | %.1f | %.0f us | %.2f us | %s | %s |" % (
                    "64 KiB" if size == 65536 else "1 KiB" if size == 1024 else "%d B" % size,
                    conns, r["server"], r["requests_per_s"], bad, r["mib_per_s"], r["p99_us"],
                    r["cpu_us_per_request"], speed, cpu))
    return "\n".join(lines) + "\n"


PEERS = ("asyncio", "uvloop", "node")


def targets(results, args):
    """The issue's targets: echod above every peer in requests/s, and echod's
    CPU per request at most 0.7x uvloop's (the epoll floor shown alongside)."""
    def get(server, size, conns):
        for r in results:
            if (r["server"], r["size"], r["connections"]) == (server, size, conns):
                return r
        return None

    lines = ["| size | conns | echod req/s | best peer req/s | echod / best peer "
             "| echod CPU/req | uvloop CPU/req | echod / uvloop | epoll floor / uvloop |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size in args.sizes:
        for conns in args.connections:
            echod, uvloop, floor = (get(s, size, conns) for s in ("echod", "uvloop", "epoll"))
            peers = [r for r in (get(s, size, conns) for s in PEERS) if r]
            if not echod or not uvloop or not peers:
                continue
            best = max(peers, key=lambda r: r["requests_per_s"])
            lines.append("| %s | %d | %.0f | %.0f (%s) | %.2fx | %.2f us | %.2f us | %.2fx | %s |" % (
                "64 KiB" if size == 65536 else "1 KiB" if size == 1024 else "%d B" % size,
                conns, echod["requests_per_s"], best["requests_per_s"], best["server"],
                echod["requests_per_s"] / best["requests_per_s"], echod["cpu_us_per_request"],
                uvloop["cpu_us_per_request"],
                echod["cpu_us_per_request"] / uvloop["cpu_us_per_request"],
                "%.2fx" % (floor["cpu_us_per_request"] / uvloop["cpu_us_per_request"])
                if floor else "-"))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measure each server this often, in turn; keep the median")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1024, 65536])
    parser.add_argument("--connections", type=lambda s: [int(x) for x in s.split(",")],
                        default=[10, 100])
    parser.add_argument("--servers", type=lambda s: s.split(","),
                        default=["echod", "epoll", "asyncio", "uvloop", "node"])
    # One core for both: on this 2-vCPU VM, splitting them adds a cross-CPU
    # wake-up (an IPI, costly in a VM) to every request, charged mostly to
    # the fastest server, and made CPU per request swing between runs.
    parser.add_argument("--server-cpu", type=int, default=1)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--json", help="write the raw results to this file")
    parser.add_argument("--markdown", help="write the table to this file")
    args = parser.parse_args()

    results = measure(args)
    table = markdown(results, args) + "\n" + targets(results, args)
    sys.stdout.write(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
