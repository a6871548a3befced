#!/usr/bin/env python3
"""Full-range TCP connect scan of a host by echoscan and by nmap, side by side.

    bench/scan-vs-nmap.py [--rounds N] [--echoscan PATH] [--no-io-uring] [HOST]

Each round runs `echoscan -q -o grep HOST` and `nmap -sT -p- -T5 -n -oG - HOST`
back to back (alternating which goes first), compares the open-port sets and
prints the wall-clock times, their medians and the ratio nmap/echoscan.

On a shared machine other programs open and close listeners while the two
scans run one after the other, so a port may honestly be open for one scan
and closed for the next. `ss -ltn` is read before, between and after the
scans; the ports listening at all three moments are the stable set, and both
scanners must report exactly it (plus, at most, ports that were listening at
some moment: those are counted as transient). Any other difference fails the
run. Not part of ctest: it measures the machine as much as the code.
Exit status: 0 same results, 1 different.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(argv):
    start = time.monotonic()
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return time.monotonic() - start, out


def echoscan_open(binary, host, extra):
    seconds, out = timed([binary, "-q", "-o", "grep"] + extra + [host])
    return seconds, {int(line.split("\t")[1].split("/")[0]) for line in out.splitlines()}


def nmap_open(host):
    seconds, out = timed(["nmap", "-sT", "-p-", "-T5", "-n", "-oG", "-", host])
    ports = set()
    for m in re.finditer(r"(\d+)/open/tcp", out):
        ports.add(int(m.group(1)))
    return seconds, ports


def listening():
    """TCP ports listening on an address that 127.0.0.1 reaches, per ss."""
    out = subprocess.run(["ss", "-Hltn"], check=True, capture_output=True, text=True).stdout
    ports = set()
    for line in out.splitlines():
        local = line.split()[3]
        addr, _, port = local.rpartition(":")
        if addr in ("127.0.0.1", "0.0.0.0", "*", "[::]", "[::ffff:127.0.0.1]") or \
                addr.startswith("127."):
            ports.add(int(port))
    return ports


def compare(open_ours, open_nmap, snapshots):
    """(ok, text) for one round."""
    stable = set.intersection(*snapshots)
    seen = set.union(*snapshots)
    if open_ours == open_nmap:
        ok = open_ours >= stable and open_ours <= seen
        return ok, "identical %s" % sorted(open_ours)
    transient = (open_ours ^ open_nmap) & (seen - stable)
    unexplained = (open_ours ^ open_nmap) - transient
    ok = not unexplained and stable <= open_ours and stable <= open_nmap
    text = "identical on stable listeners %s; transient %s" % (sorted(stable), sorted(transient))
    if unexplained:
        text = "DIFFERENT: echoscan %s nmap %s (stable %s)" % (
            sorted(open_ours), sorted(open_nmap), sorted(stable))
    return ok, text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("host", nargs="?", default="127.0.0.1")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--echoscan", default=os.path.join(HERE, "..", "build", "programs",
                                                            "echoscan"))
    parser.add_argument("--no-io-uring", action="store_true",
                        help="run echoscan with --no-io-uring (plain connect() engine)")
    args = parser.parse_args()
    extra = ["--no-io-uring"] if args.no_io_uring else []

    version = subprocess.run(["nmap", "--version"], capture_output=True,
                             text=True).stdout.splitlines()[0]
    print("host %s, %d rounds, echoscan %s, %s, %d CPUs, %s" % (
        args.host, args.rounds, " ".join(extra) or "(default engine)", version, os.cpu_count(),
        os.uname().release))
    print("%-6s %12s %12s %8s  %s" % ("round", "echoscan s", "nmap s", "ratio", "open ports"))
    ours, theirs = [], []
    same = True
    for round_ in range(1, args.rounds + 1):
        snapshots = [listening()]
        if round_ % 2:
            t_ours, open_ours = echoscan_open(args.echoscan, args.host, extra)
            snapshots.append(listening())
            t_nmap, open_nmap = nmap_open(args.host)
        else:
            t_nmap, open_nmap = nmap_open(args.host)
            snapshots.append(listening())
            t_ours, open_ours = echoscan_open(args.echoscan, args.host, extra)
        snapshots.append(listening())
        ours.append(t_ours)
        theirs.append(t_nmap)
        ok, verdict = compare(open_ours, open_nmap, snapshots)
        same = same and ok
        print("%-6d %12.3f %12.3f %7.1fx  %s" % (round_, t_ours, t_nmap, t_nmap / t_ours,
                                                verdict))
    m_ours, m_nmap = statistics.median(ours), statistics.median(theirs)
    print("median %12.3f %12.3f %7.1fx  %s" % (m_ours, m_nmap, m_nmap / m_ours,
                                               "same open ports in every round" if same
                                               else "RESULTS DIFFER"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
