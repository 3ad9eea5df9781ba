#!/usr/bin/env python3
"""Splits a system-wide perf profile taken under load into CPU time per request, by bucket.

Record while a closed-loop load runs (both cores busy), then split with the rate it achieved:
  perf record -a -g -F 999 -o /tmp/perf.data -- sleep 10
  bench/perf_split.py /tmp/perf.data --rps=4241 [--cores=2]

Buckets: the load-test client; the server's index search (the HNSW walk, its distance kernels
and heaps); the server's allocator; its gRPC + protobuf libraries; its kernel time (syscalls,
network stack, interrupts); the rest of its user code (history read, profile, filters, rank,
RocksDB, libc); and idle. With the machine saturated, the per-request figures add up to
cores / rps, so a change in one bucket shows how many microseconds it costs or saves per call.
"""
import argparse
import collections
import re
import subprocess
import sys

INDEX = re.compile(r"InnerProduct|HnswSearch|__adjust_heap|__push_heap|FaissIndex::Search|"
                   r"VisitedSet|faiss::")
RPC_DSO = re.compile(r"grpc|gpr|protobuf|upb|libssl|libcrypto|address_sorting|libre2|libcares")
ALLOC = re.compile(r"^(operator new|operator delete|free|malloc|calloc|realloc|sdallocx)\b")


def bucket(comm, dso, sym, client):
    if comm.startswith(client):
        return "client"
    if comm == "swapper":
        return "idle"
    if dso == "[kernel.kallsyms]":
        return "server: kernel"
    if RPC_DSO.search(dso):
        return "server: gRPC + protobuf"
    if "jemalloc" in dso or ALLOC.match(sym):
        return "server: allocator"
    if INDEX.search(sym):
        return "server: index search"
    return "server: pipeline + other user code"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("perf_data")
    ap.add_argument("--rps", type=float, required=True, help="rate achieved while recording")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--client", default="encore-loadtest", help="the client's comm prefix")
    a = ap.parse_args()
    report = subprocess.run(
        ["perf", "report", "-i", a.perf_data, "--no-children", "--sort", "comm,dso,sym", "-q",
         "-g", "none", "-n", "-t", "|"],
        check=True, capture_output=True, text=True).stdout
    samples = collections.Counter()
    for line in report.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 5 or not parts[1].isdigit():
            continue
        sym = "|".join(parts[4:])
        sym = sym[4:] if sym[:1] == "[" else sym  # drop "[.] " / "[k] "
        samples[bucket(parts[2], parts[3], sym, a.client)] += int(parts[1])
    total = sum(samples.values())
    if total == 0:
        sys.exit("no samples in " + a.perf_data)
    per_call_us = a.cores / a.rps * 1e6
    print(f"{'bucket':36s} {'share':>7s} {'us/call':>8s}")
    for name, n in samples.most_common():
        print(f"{name:36s} {n / total:7.1%} {n / total * per_call_us:8.1f}")
    print(f"{'total':36s} {1:7.1%} {per_call_us:8.1f}   ({total} samples, {a.cores} cores / "
          f"{a.rps:g} req/s)")


if __name__ == "__main__":
    main()
