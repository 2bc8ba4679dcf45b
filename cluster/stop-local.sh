#!/usr/bin/env bash
# Stop the cluster started by cluster/start-local-two-node.sh, and only that one: its
# processes are found by the session directory under $FLOWSTONE_RAY_DIR, so other Ray
# clusters on this machine (tests, benchmarks) are left alone.
set -euo pipefail
DIR="${FLOWSTONE_RAY_DIR:-/tmp/fs-ray2n}"
[[ -d "$DIR" ]] || exit 0

pids_of_cluster() {
  # Every Ray process of the cluster has the temp dir on its command line
  # (--temp-dir / --session-dir / log and socket paths).
  local pid
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [[ "$pid" == "$$" ]] && continue
    if tr "\0" " " < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR/tmp"; then
      echo "$pid"
    fi
  done
}

pids="$(pids_of_cluster)"
if [[ -n "$pids" ]]; then
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 25); do  # up to 5 s for an orderly exit, then SIGKILL
    alive=""
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
    [[ -z "$alive" ]] && break
    sleep 0.2
  done
  [[ -n "$alive" ]] && kill -KILL $alive 2>/dev/null || true
fi
rm -rf "$DIR"
echo "stopped the local two-node cluster ($DIR)"
