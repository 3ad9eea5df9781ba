# Sourced by the bench scripts and their tests: a process's CPU time from the scheduler.
#
# proc_cpu_ns PID: the run time of PID's live threads, in ns, summed from
# /proc/PID/task/*/schedstat. The utime and stime of /proc/PID/stat are tick samples: on a PVM
# guest they missed most of the ideal server's short bursts (163 against 489 µs per call at
# 1,500 req/s, where the machine's busy share agreed with the latter; docs/BENCHMARKS.md, "What a
# call costs"). A thread that exits takes its time with it.
proc_cpu_ns() {
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'
}
