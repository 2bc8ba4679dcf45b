#!/usr/bin/env bash
# Start a two-node Ray cluster on this machine: a head node and one worker node, each a
# separate raylet started with `ray start`, for trying FlowStone across nodes and for the
# `twonode` integration test (tests/ray/test_two_node.py).
#
#   cluster/start-local-two-node.sh            # prints the address, e.g. 127.0.0.1:41234
#   RAY_ADDRESS=$(cat /tmp/fs-ray2n/address) python my_backfill.py   # ray_address="auto"
#   cluster/stop-local.sh
#
# Environment:
#   FLOWSTONE_RAY_DIR   state directory (default /tmp/fs-ray2n; keep it short: Ray's socket
#                       paths must stay under 107 characters)
#   HEAD_CPUS, WORKER_CPUS   logical CPUs of each node (default 1 and 1)
#   DASHBOARD=1         also start the dashboard (on a free port, written to $DIR/dashboard)
#   RAY                 the `ray` executable (default: .venv/bin/ray, else `ray` on PATH)
#
# Token authentication (Ray 2.60 turns it on by default): the head creates or reuses
# ~/.ray/auth_token, and every other process that talks to the cluster must present it.
# `ray start --address=...` and `ray status` do so only with RAY_AUTH_MODE=token in their
# environment (without it the worker's join fails after ~20 s), so this script exports it.
# Drivers (ray.init) and the dashboard need it too; see docs/ray.md.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
DIR="${FLOWSTONE_RAY_DIR:-/tmp/fs-ray2n}"
HEAD_CPUS="${HEAD_CPUS:-1}"
WORKER_CPUS="${WORKER_CPUS:-1}"
if [[ -z "${RAY:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/ray" ]]; then RAY="$ROOT/.venv/bin/ray"; else RAY="ray"; fi
fi
PYTHON="$(dirname "$(command -v "$RAY")")/python"
[[ -x "$PYTHON" ]] || PYTHON=python3

export RAY_AUTH_MODE=token

if [[ -f "$DIR/address" ]]; then
  echo "a cluster already runs from $DIR (address $(cat "$DIR/address")); stop it with cluster/stop-local.sh" >&2
  exit 1
fi
mkdir -p "$DIR"

# Fixed default ports (client server 10001, dashboard agent 52365, dashboard 8265) would
# clash between the two raylets, and with any other Ray on this machine: take free ones.
read -r GCS_PORT CLIENT_PORT HEAD_AGENT WORKER_AGENT DASH_PORT < <("$PYTHON" - <<'PY'
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks:
    s.close()
PY
)

dashboard=(--include-dashboard=false)
if [[ "${DASHBOARD:-0}" == "1" ]]; then
  dashboard=(--include-dashboard=true --dashboard-host=127.0.0.1 --dashboard-port="$DASH_PORT")
  echo "127.0.0.1:$DASH_PORT" > "$DIR/dashboard"
fi

"$RAY" start --head \
  --node-ip-address=127.0.0.1 \
  --port="$GCS_PORT" \
  --ray-client-server-port="$CLIENT_PORT" \
  --dashboard-agent-listen-port="$HEAD_AGENT" \
  --num-cpus="$HEAD_CPUS" \
  --resources='{"flowstone_head": 1}' \
  --temp-dir="$DIR/tmp" \
  --disable-usage-stats \
  "${dashboard[@]}" >"$DIR/head.log" 2>&1 || { cat "$DIR/head.log" >&2; exit 1; }

echo "127.0.0.1:$GCS_PORT" > "$DIR/address"

"$RAY" start \
  --address="127.0.0.1:$GCS_PORT" \
  --node-ip-address=127.0.0.1 \
  --dashboard-agent-listen-port="$WORKER_AGENT" \
  --num-cpus="$WORKER_CPUS" \
  --resources='{"flowstone_worker": 1}' \
  --disable-usage-stats >"$DIR/worker.log" 2>&1 || {
    cat "$DIR/worker.log" >&2
    "$HERE/stop-local.sh" >/dev/null 2>&1 || true
    exit 1
  }

# The worker has joined once the GCS lists two alive nodes.
for _ in $(seq 1 120); do
  alive="$(RAY_ADDRESS="127.0.0.1:$GCS_PORT" "$PYTHON" - <<'PY' 2>/dev/null || echo 0
import ray
ray.init(address="auto", log_to_driver=False, configure_logging=False)
print(sum(1 for n in ray.nodes() if n["Alive"]))
PY
)"
  [[ "$alive" == "2" ]] && break
  sleep 0.5
done
if [[ "$alive" != "2" ]]; then
  echo "the worker node did not join the head at 127.0.0.1:$GCS_PORT" >&2
  "$HERE/stop-local.sh" >/dev/null 2>&1 || true
  exit 1
fi
echo "127.0.0.1:$GCS_PORT"
