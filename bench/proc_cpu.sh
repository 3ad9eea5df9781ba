# shellcheck shell=bash
# Sourced by the bench scripts and their tests: a process's CPU time from the scheduler, and
# how the machine's idle CPUs wait for work.
#
# proc_cpu_ns PID: the run time of PID's live threads, in ns, summed from
# /proc/PID/task/*/schedstat. The utime and stime of /proc/PID/stat are tick samples: on a PVM
# guest they missed most of the ideal server's short bursts (163 against 489 µs per call at
# 1,500 req/s, where the machine's busy share agreed with the latter; docs/BENCHMARKS.md, "What a
# call costs"). A thread that exits takes its time with it.
proc_cpu_ns() {
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'
}

# cpu_idle_policy: how this machine's idle CPUs wait for work, as key=value pairs. Latency at
# partial load depends on it (an idle vCPU that halts must be woken by the host; one that polls
# need not), so the bench scripts print it beside their figures:
#   cpuidle=    the cpuidle driver (haltpoll on KVM guests, none where there is none);
#   halt_poll_ns=  haltpoll's guest_halt_poll_ns, how long an idle vCPU polls before halting
#                  (- where the haltpoll module is absent);
#   cpu_latency_limit_us=  the CPU latency QoS limit now in force, the smallest any process holds
#                  open on /dev/cpu_dma_latency (2000000000 = none; 0 = idle CPUs only poll;
#                  - where it cannot be read: not root, or no such device).
cpu_idle_policy() {
  local driver poll limit
  driver=$(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo none)
  poll=$(cat /sys/module/haltpoll/parameters/guest_halt_poll_ns 2>/dev/null || echo -)
  limit=$(od -An -td4 -N4 /dev/cpu_dma_latency 2>/dev/null | tr -d ' ')
  echo "cpuidle=$driver halt_poll_ns=$poll cpu_latency_limit_us=${limit:--}"
}
