#!/usr/bin/env bash
# bench/queue_model.py against queueing theory: on one server the mean response time of an M/G/1
# queue is S + rho*S*(1 + cv^2) / (2*(1 - rho)) (Pollaczek-Khinchine), and response times scale
# with the service mean.
set -euo pipefail
MODEL=$1
mean_of() { "$MODEL" "$@" | sed -n 's/.*mean \([0-9.]*\) ms.*/\1/p'; }
check() {  # got, want, tolerance (relative)
  python3 -c "import sys; g, w, t = map(float, sys.argv[1:]); sys.exit(0 if abs(g - w) <= t * w else 1)" "$@" \
    || { echo "FAIL: got $1, want $2 (+-$3 relative)"; exit 1; }
}
# M/D/1 at rho 0.5, S = 1 ms: 1.5 ms. Lognormal with cv 1 at rho 0.5: 2.0 ms.
check "$(mean_of --service_ms=1 --cores=1 --load=0.5 --cv 0 --requests=200000)" 1.5 0.03
check "$(mean_of --service_ms=1 --cores=1 --load=0.5 --cv 1 --requests=200000)" 2.0 0.05
# Twice the service time at the same load: twice the response time, same seed.
a=$(mean_of --service_ms=0.4 --cores=2 --load=0.5 --cv 0.25 --requests=50000)
b=$(mean_of --service_ms=0.8 --cores=2 --load=0.5 --cv 0.25 --requests=50000)
check "$b" "$(python3 -c "print(2 * $a)")" 0.005
# Bad input is refused.
if "$MODEL" --service_ms=1 --load=1.2 2>/dev/null; then echo "FAIL: accepted load 1.2"; exit 1; fi
echo "queue model: ok"
