#!/usr/bin/env bash
# Runs the engine benchmark's modes inside a memory limit, as a container with a memory limit runs RuleFlow.
#
#   tools/bench-memory-limit.sh [--limit-mb 95] [--events 1000000] [--warmup 300000] [--modes "W1,W2,W1+W2,W1+W2 bulk,compile"]
#                               [--json FILE]
#
# Each mode runs as `RuleFlow.Bench engine --mode M` (Release build) in a memory cgroup of its own with that limit
# (cgroup v1 `memory.limit_in_bytes`, or cgroup v2 `memory.max`), created under the memory controller's root and removed
# afterwards. The .NET runtime reads the limit and caps its GC heap at 75 % of it (`GCHeapHardLimit`); the kernel holds the
# process to the limit by reclaiming pages it can read back, chiefly the clean pages of the runtime's mapped files.
# Before each mode the page cache of the runtime's files, the bench's files and OpenSSL is dropped (`dd iflag=nocache`), so
# that the cgroup is charged for every page it maps, as a fresh container is (a page read before into the cache would be
# charged to whoever read it). libc and the other libraries this shell maps stay shared.
#
# Prints each mode's row from the bench (events/s, p99, peak working set, answers...) with the cgroup's own peak charge
# (`cgroup_peak_mb`) and how often it hit the limit (`limit_hits`); with --json, writes the rows as a JSON array.
# A mode that the limit kills (OOM) is reported as killed and the script exits 1; so does a row whose answers mismatch.
#
# Needs Linux, root, and a memory cgroup controller mounted read-write (v1 at /sys/fs/cgroup/memory, or v2 with `memory`
# in cgroup.controllers). The numbers are in docs/performance.md ("Inside a memory limit").
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
limit_mb=95
events=1000000
warmup=300000
modes="W1,W2,W1+W2,W1+W2 bulk,compile"
json=""
while [ $# -gt 0 ]; do
  case "$1" in
    --limit-mb) limit_mb=$2; shift 2 ;;
    --events) events=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    *) echo "bench-memory-limit.sh: unknown argument '$1' (see the header of this script)" >&2; exit 2 ;;
  esac
done
[[ "$limit_mb" =~ ^[0-9]+$ ]] && [ "$limit_mb" -ge 32 ] || { echo "bench-memory-limit.sh: --limit-mb must be a whole number of MB, at least 32 (got '$limit_mb')" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench-memory-limit.sh: needs root, to create a memory cgroup" >&2; exit 1; }

# The memory controller: v1 (its own hierarchy) or v2 (the unified one, when it has the memory controller).
if [ -w /sys/fs/cgroup/memory/cgroup.procs ] && [ -e /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
  version=1; base=/sys/fs/cgroup/memory
elif [ -r /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
  version=2; base=/sys/fs/cgroup
  grep -qw memory /sys/fs/cgroup/cgroup.subtree_control || echo +memory > /sys/fs/cgroup/cgroup.subtree_control
else
  echo "bench-memory-limit.sh: no writable memory cgroup controller (looked for /sys/fs/cgroup/memory and cgroup v2 at /sys/fs/cgroup)" >&2
  exit 1
fi

echo "Building tools/RuleFlow.Bench (Release)..."
# No build servers: a process left running would keep the runtime's files mapped, and their pages out of the cgroup's charge.
dotnet build -c Release "$root/tools/RuleFlow.Bench" --disable-build-servers -v quiet -nologo >/dev/null
app="$root/tools/RuleFlow.Bench/bin/Release/net10.0"
runtime_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
ssl_libs=$(ldconfig -p 2>/dev/null | awk '/lib(ssl|crypto)\.so/ { print $NF }' | sort -u)

group="$base/ruleflow-bench-$$"
cleanup() { [ -d "$group" ] && rmdir "$group" 2>/dev/null || true; }
trap cleanup EXIT

rows=()
status=0
IFS=',' read -r -a mode_list <<< "$modes"
for mode in "${mode_list[@]}"; do
  # Drop the page cache of every file the mode maps that another process is not mapping now.
  find "$runtime_root/shared/Microsoft.NETCore.App" "$runtime_root/host" "$app" -type f -print0 |
    xargs -0 -I{} dd if={} iflag=nocache count=0 status=none
  for lib in $ssl_libs; do dd if="$lib" iflag=nocache count=0 status=none 2>/dev/null || true; done

  mkdir "$group"
  if [ "$version" = 1 ]; then
    echo $((limit_mb * 1048576)) > "$group/memory.limit_in_bytes"
  else
    echo $((limit_mb * 1048576)) > "$group/memory.max"
    echo 0 > "$group/memory.swap.max" 2>/dev/null || true
  fi

  echo "Running $mode ($events events) in a ${limit_mb} MB memory cgroup..."
  out=$(bash -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' _ "$group" "$app/RuleFlow.Bench" engine --mode "$mode" \
          --events "$events" --warmup "$warmup" 2>&1) && code=0 || code=$?
  if [ "$version" = 1 ]; then
    peak=$(cat "$group/memory.max_usage_in_bytes"); hits=$(cat "$group/memory.failcnt")
    ooms=$(awk '/^oom_kill / { print $2 }' "$group/memory.oom_control" 2>/dev/null || echo 0)
  else
    peak=$(cat "$group/memory.peak" 2>/dev/null || echo 0); hits=$(awk '/^max / { print $2 }' "$group/memory.events")
    ooms=$(awk '/^oom_kill / { print $2 }' "$group/memory.events")
  fi
  rmdir "$group"

  row=$(printf '%s\n' "$out" | sed -n 's/^RESULT //p')
  if [ "$code" -ne 0 ] || [ -z "$row" ]; then
    echo "  $mode: exit code $code (OOM kills in the cgroup: ${ooms:-0}); its last lines:" >&2
    printf '%s\n' "$out" | tail -n 5 | sed 's/^/    /' >&2
    status=1
    continue
  fi
  extra=$(printf '"memory_limit_mb":%s,"cgroup_peak_mb":%s,"limit_hits":%s' "$limit_mb" \
            "$(awk -v b="$peak" 'BEGIN { printf "%.1f", b / 1048576 }')" "$hits")
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
