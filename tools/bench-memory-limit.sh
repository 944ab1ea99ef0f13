#!/usr/bin/env bash
# Runs the engine benchmark's modes inside a memory limit, as a container with a memory limit runs RuleFlow.
#
#   tools/bench-memory-limit.sh [--limit-mb 95] [--events 1000000] [--warmup 300000] [--modes "W1,W2,W1+W2,W1+W2 bulk,compile"]
#                               [--json FILE] [--timeout-s 900]
#
# Each mode runs as `RuleFlow.Bench engine --mode M` (Release build) in a memory cgroup of its own with that limit
# (cgroup v1 `memory.limit_in_bytes`, and `memory.memsw.limit_in_bytes` where swap is accounted; cgroup v2 `memory.max` and
# `memory.swap.max` 0), created under the memory controller's root and removed afterwards. The .NET runtime reads the limit and
# caps its GC heap at 75 % of it (`GCHeapHardLimit`); the kernel holds the process to the limit by reclaiming pages it can read
# back, chiefly the clean pages of the runtime's mapped files. The limit therefore sets the working set: what a run shows is
# whether the engine keeps its speed and answers when held there.
#
# Before each mode the page cache of the files the bench maps is dropped (`dd iflag=nocache`: the runtime, the bench, OpenSSL,
# libstdc++, libm, libgcc_s), so that the cgroup is charged for every page of them, as a fresh container is. A page another
# process has mapped cannot be dropped and is not charged: the script refuses to run while another process maps the .NET runtime
# (a build server, a test run, the server), and libc and ld.so (mapped by every process) stay shared, ~2 MB.
#
# Prints each mode's row from the bench (events/s, p99, peak working set, answers...) with the cgroup's peak charge
# (`cgroup_peak_mb`; under v1 it stops at the limit) and the pages it read back from disk (`major_faults`, from the cgroup's
# memory.stat): what holding the process to the limit cost. With --json, writes the rows as a JSON array; a mode that failed (the
# limit killed it, or --timeout-s stopped it) is a row with its exit code and OOM kills. The exit code is 1 if a mode failed or
# its answers mismatch.
#
# Needs Linux, root, and a memory cgroup controller mounted read-write (v1 at /sys/fs/cgroup/memory, or v2 at /sys/fs/cgroup
# with `memory` in cgroup.controllers, run outside a container's cgroup namespace). Numbers: docs/performance.md ("Inside a
# memory limit").
set -euo pipefail

die() { echo "bench-memory-limit.sh: $*" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
limit_mb=95
events=1000000
warmup=300000
modes="W1,W2,W1+W2,W1+W2 bulk,compile"
json=""
timeout_s=900
while [ $# -gt 0 ]; do
  case "$1" in
    --limit-mb|--events|--warmup|--modes|--json|--timeout-s) [ $# -ge 2 ] || die "$1 needs a value (see the header of this script)" ;;&
    --limit-mb) limit_mb=$2; shift 2 ;;
    --events) events=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    --timeout-s) timeout_s=$2; shift 2 ;;
    *) die "unknown argument '$1' (see the header of this script)" ;;
  esac
done
[[ "$limit_mb" =~ ^[0-9]{1,6}$ ]] || die "--limit-mb must be a whole number of MB (got '$limit_mb')"
limit_mb=$((10#$limit_mb))
[ "$limit_mb" -ge 32 ] || die "--limit-mb must be at least 32 (got $limit_mb)"
[[ "$events" =~ ^[0-9]+$ ]] || die "--events must be a whole number (got '$events')"
[[ "$warmup" =~ ^[0-9]+$ ]] || die "--warmup must be a whole number (got '$warmup')"
[[ "$timeout_s" =~ ^[0-9]+$ ]] && [ "$((10#$timeout_s))" -gt 0 ] || die "--timeout-s must be a whole number of seconds above 0 (got '$timeout_s')"
timeout_s=$((10#$timeout_s))
mode_list=()
IFS=',' read -r -a requested <<< "$modes"
for mode in "${requested[@]}"; do
  mode=$(echo "$mode" | sed 's/^ *//; s/ *$//')
  case "$mode" in
    "W1"|"W2"|"W1+W2"|"W1+W2 bulk"|"compile") mode_list+=("$mode") ;;
    *) die "unknown mode '$mode' in --modes (W1, W2, W1+W2, \"W1+W2 bulk\", compile)" ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench-memory-limit.sh: needs root, to create a memory cgroup" >&2; exit 1; }

# The memory controller: v1 (its own hierarchy) or v2 (the unified one, when it has the memory controller).
if [ -w /sys/fs/cgroup/memory/cgroup.procs ] && [ -e /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
  version=1; base=/sys/fs/cgroup/memory
elif [ -r /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
  version=2; base=/sys/fs/cgroup
  if ! grep -qw memory /sys/fs/cgroup/cgroup.subtree_control; then
    echo +memory > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
      { echo "bench-memory-limit.sh: cannot enable the memory controller for children of /sys/fs/cgroup (inside a container's cgroup namespace, whose root holds processes?)" >&2; exit 1; }
  fi
else
  echo "bench-memory-limit.sh: no writable memory cgroup controller (looked for /sys/fs/cgroup/memory and cgroup v2 at /sys/fs/cgroup)" >&2
  exit 1
fi

echo "Building tools/RuleFlow.Bench (Release)..."
# No build servers: a process left running would keep the runtime's files mapped, and their pages out of the cgroup's charge.
if ! build_log=$(dotnet build -c Release "$root/tools/RuleFlow.Bench" --disable-build-servers -v quiet -nologo 2>&1); then
  printf '%s\n' "$build_log" >&2
  echo "bench-memory-limit.sh: the build failed" >&2
  exit 1
fi
app="$root/tools/RuleFlow.Bench/bin/Release/net10.0"
runtime_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime_dir="$runtime_root/shared/Microsoft.NETCore.App"
native_libs=$( { ldconfig -p 2>/dev/null || true; } | awk '/lib(ssl|crypto|stdc\+\+|m|gcc_s)\.so/ { print $NF }' | sort -u)

# Pages another process maps stay resident and uncharged: refuse to measure then.
others=$(grep -l -F "$runtime_dir" /proc/[0-9]*/maps 2>/dev/null | grep -v "^/proc/$$/" | sed 's|/proc/\([0-9]*\)/maps|\1|' || true)
if [ -n "$others" ]; then
  echo "bench-memory-limit.sh: other processes map the .NET runtime, so its pages would not be charged to the limit; stop them first:" >&2
  for pid in $others; do echo "  $pid $(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | cut -c1-150)" >&2; done
  exit 1
fi

group="$base/ruleflow-bench-$$"
out_file=$(mktemp /tmp/ruleflow-bench-limit.XXXXXX)
cleanup() {
  rm -f "$out_file"
  if [ -d "$group" ]; then
    while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done < "$group/cgroup.procs"
    for _ in $(seq 1 50); do [ -n "$(cat "$group/cgroup.procs")" ] || break; sleep 0.1; done # cgroup files have no size: read them
    rmdir "$group" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rows=()
status=0
for mode in "${mode_list[@]}"; do
  # Drop the page cache of every file the mode maps (no other process maps them now).
  find "$runtime_dir" "$runtime_root/host" "$app" -type f -print0 | xargs -0 -I{} dd if={} iflag=nocache count=0 status=none
  for lib in $native_libs; do dd if="$lib" iflag=nocache count=0 status=none 2>/dev/null || true; done

  mkdir "$group"
  if [ "$version" = 1 ]; then
    echo $((limit_mb * 1048576)) > "$group/memory.limit_in_bytes"
    if [ -e "$group/memory.memsw.limit_in_bytes" ]; then echo $((limit_mb * 1048576)) > "$group/memory.memsw.limit_in_bytes"; fi
  else
    echo $((limit_mb * 1048576)) > "$group/memory.max"
    if [ -e "$group/memory.swap.max" ]; then echo 0 > "$group/memory.swap.max"; fi
  fi

  echo "Running $mode ($events events) in a ${limit_mb} MB memory cgroup..."
  # The child enters the group before it execs the bench, and stops (exit code 125) if it cannot. It runs in the background so
  # that a signal to this script is handled at once (cleanup kills it), and is stopped after --timeout-s: a limit too tight can
  # leave it reclaiming pages for ever instead of being killed.
  bash -c 'echo $$ > "$1/cgroup.procs" && grep -q ":${1#'"$base"'}\$" /proc/self/cgroup || exit 125; shift; exec "$@"' _ "$group" \
    timeout -k 10 "$timeout_s" "$app/RuleFlow.Bench" engine --mode "$mode" --events "$events" --warmup "$warmup" > "$out_file" 2>&1 &
  wait $! && code=0 || code=$?
  out=$(cat "$out_file")
  peak=""
  if [ "$version" = 1 ]; then
    peak=$(cat "$group/memory.max_usage_in_bytes"); majors=$(awk '/^total_pgmajfault / { print $2 }' "$group/memory.stat")
    ooms=$(awk '/^oom_kill / { print $2 }' "$group/memory.oom_control" 2>/dev/null || true)
  else
    peak=$(cat "$group/memory.peak" 2>/dev/null || true); majors=$(awk '/^pgmajfault / { print $2 }' "$group/memory.stat")
    ooms=$(awk '/^oom_kill / { print $2 }' "$group/memory.events")
  fi
  rmdir "$group"
  peak_mb=null
  [ -n "$peak" ] && peak_mb=$(awk -v b="$peak" 'BEGIN { printf "%.1f", b / 1048576 }')
  [ "$peak_mb" = null ] && echo "  (this kernel has no memory.peak: cgroup_peak_mb is null)" >&2
  extra=$(printf '"memory_limit_mb":%d,"cgroup_peak_mb":%s,"major_faults":%d,"oom_kills":%d' "$limit_mb" "$peak_mb" "${majors:-0}" "${ooms:-0}")

  row=$(printf '%s\n' "$out" | sed -n 's/^RESULT //p')
  if [ "$code" -ne 0 ] || [ -z "$row" ]; then
    [ "$code" -eq 125 ] && echo "  $mode: could not move the bench into $group" >&2
    [ "$code" -eq 124 ] && echo "  $mode: stopped after --timeout-s $timeout_s s (a limit too tight makes the kernel reclaim pages for ever)" >&2
    echo "  $mode: exit code $code (OOM kills in the cgroup: ${ooms:-0}); its last lines:" >&2
    printf '%s\n' "$out" | tail -n 5 | sed 's/^/    /' >&2
    rows+=("$(printf '{"mode":"%s","exit_code":%d,%s}' "$mode" "$code" "$extra")")
    status=1
    continue
  fi
  row="${row%\}},$extra}"
  echo "  $row"
  [[ "$row" == *'"check":"MISMATCH"'* ]] && status=1
  rows+=("$row")
done

if [ -n "$json" ]; then
  { echo "["; for i in "${!rows[@]}"; do sep=","; [ "$i" -eq $((${#rows[@]} - 1)) ] && sep=""; echo "  ${rows[$i]}$sep"; done; echo "]"; } > "$json"
  echo "Wrote $json"
fi
exit $status
