#!/usr/bin/env python3
"""Latency of an ideal queue at a given load: what p99 the service could reach at best.

Models the machine as `cores` servers taking requests first come, first served, with Poisson
arrivals at `load` x capacity and lognormal service times of mean `service_ms` (the machine's CPU
time per call: cores / closed-loop max throughput) and coefficient of variation `cv`. No thread
scheduling, no wake-up latency, no hypervisor: a lower bound for the measured tail, before the
empty RPC's own latency is added.

  bench/queue_model.py --service_ms=0.76 --cores=2 --load=0.5
  bench/queue_model.py --service_ms=0.76 --solve_p99_ms=2   # largest service mean meeting it
"""
import argparse
import heapq
import math
import random


def simulate(service_ms, cores, load, cv, n, seed):
    """Returns sorted response times (ms) of `n` requests."""
    rng = random.Random(seed)
    arrival_rate = load * cores / service_ms  # per ms
    sigma = math.sqrt(math.log(1 + cv * cv))
    mu = math.log(service_ms) - sigma * sigma / 2
    free_at = [0.0] * cores
    t = 0.0
    out = []
    for _ in range(n):
        t += rng.expovariate(arrival_rate)
        start = max(t, heapq.heappop(free_at))
        done = start + rng.lognormvariate(mu, sigma)
        heapq.heappush(free_at, done)
        out.append(done - t)
    out.sort()
    return out


def quantile(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--service_ms", type=float, required=True, help="mean CPU time per call")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--load", type=float, default=0.5, help="share of capacity offered, 0..1")
    p.add_argument("--cv", type=float, nargs="+", default=[0.25, 1.0],
                   help="coefficients of variation of the service time to model")
    p.add_argument("--requests", type=int, default=400000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--solve_p99_ms", type=float, default=0,
                   help="also find the largest service mean whose p99 stays at or below this")
    a = p.parse_args()
    if a.service_ms <= 0 or a.cores < 1 or not 0 < a.load < 1 or a.requests < 1000:
        p.error("need --service_ms > 0, --cores >= 1, 0 < --load < 1, --requests >= 1000")
    if any(cv < 0 for cv in a.cv):
        p.error("--cv must be >= 0")
    for cv in a.cv:
        r = simulate(a.service_ms, a.cores, a.load, cv, a.requests, a.seed)
        print(f"service {a.service_ms:.3f} ms (cv {cv}), {a.cores} cores, load {a.load:.0%}: "
              f"mean {sum(r) / len(r):.3f} ms, p50 {quantile(r, 0.5):.3f} ms, p99 {quantile(r, 0.99):.3f} ms, "
              f"p99.9 {quantile(r, 0.999):.3f} ms")
        if a.solve_p99_ms > 0:
            # The p99 scales linearly with the service mean at a fixed load and cv.
            scale = a.solve_p99_ms / quantile(r, 0.99)
            print(f"   p99 <= {a.solve_p99_ms} ms at this load needs a service mean <= "
                  f"{a.service_ms * scale:.3f} ms")


if __name__ == "__main__":
    main()
