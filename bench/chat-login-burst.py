#!/usr/bin/python3
"""Echo latency during a burst of chat password logins: does argon2id on
echod's worker pool stall the event loop?

One echod serves echo and chat. echobench (-c 10 -s 1024, closed loop)
measures echo latency twice per round, in turn: alone ("quiet"), and while
this script opens --rate (20) new chat connections per second, each a
password login of an existing bench user (HELLO or NAME?, PASSWORD?, then
TOKEN and OK, then /quit; an ERR busy ends that attempt and is counted).
Each login makes the workers compute one argon2id hash (about 55 ms of a
quiet core, four times that on a loaded one). The round with the median p99 is
kept for each; their p50/p99/p99.9 and the ratio are printed, with the
logins completed, refused (ERR busy) and their own latency.

The users are the ones bench/chat-fanout.py registers (bench/chatlib.py
keeps them in BUILD/bench/chat-state); missing ones are registered first.
By default nothing is pinned: the two hashing workers, the loop and
echobench share the machine's CPUs as they would in production. With
--split, echod's loop thread and echobench share CPU 0 and the workers and
the login clients CPU 1, so that what remains is the loop's own doing.

Usage (from the source tree, after building into build/):
    /usr/bin/python3 bench/chat-login-burst.py [--rate 20] [--duration 10]
        [--rounds 3] [--markdown FILE] [--json FILE]
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import threading
import time

import chatlib

ROOT = chatlib.ROOT


def log(text):
    print(text, file=sys.stderr, flush=True)


def run_echobench(args, port):
    argv = chatlib.pinned(args.client_cpu, [
        os.path.join(args.build, "programs", "echobench"), "--json", "-c",
        str(args.connections), "-s", str(args.size), "-d", "%gs" % args.duration,
        "127.0.0.1", str(port)])
    result = subprocess.run(argv, capture_output=True, timeout=args.duration + 60)
    if not result.stdout.strip():
        raise RuntimeError("echobench failed: %s" % result.stderr.decode(errors="replace"))
    report = json.loads(result.stdout)
    if report["mismatches"] or report["errors"]:
        raise RuntimeError("echobench saw %d mismatches, %d errors"
                           % (report["mismatches"], report["errors"]))
    return report


class Burst:
    """Open a password login every 1/rate seconds until stopped; each in its
    own thread, so a slow login never delays the next one."""

    def __init__(self, port, names, rate):
        self.port, self.names, self.rate = port, names, rate
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.ok, self.busy, self.failed, self.latencies = 0, 0, 0, []
        # Enough threads for every login echod lets wait (chat-max-pending,
        # 256), so that its own bound (chat-queue, ERR busy) is what limits.
        self.pool = concurrent.futures.ThreadPoolExecutor(256)
        self.thread = threading.Thread(target=self._run)

    def _login(self, name):
        started = time.monotonic()
        try:
            sock, _ = chatlib.chat_login(self.port, name, chatlib.password_of(name),
                                         timeout=30, retry_busy=False)
            chatlib.quit_chat(sock)
            with self.lock:
                self.ok += 1
                self.latencies.append(time.monotonic() - started)
        except chatlib.LoginError as e:
            with self.lock:
                if str(e).startswith("busy"):
                    self.busy += 1
                else:
                    self.failed += 1
                    log("login failed: %s" % e)

    def _run(self):
        started = time.monotonic()
        i = 0
        while not self.stopping.is_set():
            self.pool.submit(self._login, self.names[i % len(self.names)])
            i += 1
            # Open-loop: the i-th login starts at i/rate, whatever came before.
            self.stopping.wait(max(started + i / self.rate - time.monotonic(), 0))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()
        self.pool.shutdown(wait=True)

    def summary(self):
        lat = sorted(self.latencies)
        pick = (lambda q: lat[min(int(q * len(lat)), len(lat) - 1)] * 1000) if lat else \
            (lambda q: 0.0)
        return {"logins": self.ok, "busy": self.busy, "failed": self.failed,
                "login_ms": {"p50": pick(0.5), "p99": pick(0.99), "max": pick(1.0)}}


def split_cpus(pid):
    """--split: echod's loop thread (its main thread) and echobench on CPU 0;
    the hashing workers (every other thread of echod) and this script's
    login clients on CPU 1. What is left of the burst's effect on echo
    latency is then the loop's own doing, not two CPUs shared by four busy
    threads."""
    for tid in os.listdir("/proc/%d/task" % pid):
        cpu = 0 if int(tid) == pid else 1
        subprocess.run(["taskset", "-p", "-c", str(cpu), tid], check=True,
                       stdout=subprocess.DEVNULL)
    os.sched_setaffinity(0, {1})


def summarize(report):
    lat = report["latency_ns"]
    return {"requests_per_s": report["requests_per_s"],
            "p50_us": lat["p50"] / 1000, "p99_us": lat["p99"] / 1000,
            "p99.9_us": lat["p99.9"] / 1000, "max_us": lat["max"] / 1000}


def measure(args):
    server = chatlib.Echod(args.build, args.state_dir)
    try:
        users = chatlib.Users(args.state_dir)
        names = ["fan%d" % i for i in range(args.users)]
        users.ensure(server.chat_port, names, log)
        if args.split:
            split_cpus(server.pid)
            args.client_cpu = 0
        elif args.server_cpu is not None:
            chatlib.pin(server.pid, args.server_cpu)
        run_echobench(args, server.echo_port)  # warm-up
        rounds = {"quiet": [], "burst": []}
        for _ in range(args.rounds):
            rounds["quiet"].append(summarize(run_echobench(args, server.echo_port)))
            log("quiet: %s" % rounds["quiet"][-1])
            cpu = chatlib.cpu_seconds(server.pid)
            with Burst(server.chat_port, names, args.rate) as burst:
                time.sleep(0.5)  # let the first hashes start
                result = summarize(run_echobench(args, server.echo_port))
            result.update(burst.summary())
            result["server_cpu_s"] = chatlib.cpu_seconds(server.pid) - cpu
            rounds["burst"].append(result)
            log("burst: %s" % result)
    finally:
        server.stop()
    kept = {}
    for phase, runs in rounds.items():
        ordered = sorted(runs, key=lambda r: r["p99_us"])
        kept[phase] = dict(ordered[len(ordered) // 2])
        kept[phase]["rounds_p99_us"] = [r["p99_us"] for r in runs]
    return kept


def markdown(kept, args):
    quiet, burst = kept["quiet"], kept["burst"]
    lines = ["| echo load | chat logins | requests/s | p50 | p99 | p99.9 | max "
             "| p99 rounds | logins done (busy) | login p50 / p99 |",
             "|---|---|---:|---:|---:|---:|---:|---|---:|---:|"]
    for phase, r in (("quiet", quiet), ("burst", burst)):
        logins = "%d (%d)" % (r["logins"], r["busy"]) if phase == "burst" else "-"
        login_lat = "%.0f / %.0f ms" % (r["login_ms"]["p50"], r["login_ms"]["p99"]) \
            if phase == "burst" else "-"
        lines.append("| -c %d -s %d, %gs | %s | %.0f | %.0f us | %.0f us | %.0f us | %.0f us "
                     "| %s | %s | %s |" % (
                         args.connections, args.size, args.duration,
                         "none" if phase == "quiet" else "%g/s" % args.rate,
                         r["requests_per_s"], r["p50_us"], r["p99_us"], r["p99.9_us"],
                         r["max_us"], " ".join("%.0f" % x for x in r["rounds_p99_us"]),
                         logins, login_lat))
    lines.append("")
    lines.append("burst / quiet: p50 %.2fx, p99 %.2fx, p99.9 %.2fx, requests/s %.2fx" % (
        burst["p50_us"] / quiet["p50_us"], burst["p99_us"] / quiet["p99_us"],
        burst["p99.9_us"] / quiet["p99.9_us"],
        burst["requests_per_s"] / quiet["requests_per_s"]))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--state-dir", default=None,
                        help="echod state with the bench users (default BUILD/bench/chat-state)")
    parser.add_argument("--rate", type=float, default=20.0, help="chat logins per second")
    parser.add_argument("--users", type=int, default=100, help="distinct users to log in")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server-cpu", type=int, default=None,
                        help="pin echod (all its threads) to this CPU; default unpinned")
    parser.add_argument("--client-cpu", type=int, default=None,
                        help="pin echobench to this CPU; default unpinned")
    parser.add_argument("--split", action="store_true",
                        help="loop thread and echobench on CPU 0, workers and login clients "
                             "on CPU 1")
    parser.add_argument("--json", help="write the raw results to this file")
    parser.add_argument("--markdown", help="write the table to this file")
    args = parser.parse_args()
    if args.state_dir is None:
        args.state_dir = os.path.join(args.build, "bench", "chat-state")

    kept = measure(args)
    table = markdown(kept, args)
    sys.stdout.write(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(kept, f, indent=1)


if __name__ == "__main__":
    main()
