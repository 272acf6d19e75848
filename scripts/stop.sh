#!/usr/bin/env bash
# Stops exactly the processes scripts/start.sh started (SIGTERM, then SIGKILL after 15 s).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR="${PINGTOWER_RUN_DIR:-$(pwd)/run}"
[ -f "$RUN_DIR/pids" ] || { echo "nothing to stop"; exit 0; }
while read -r pid name _; do
  if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" && echo "stopping $name ($pid)"; fi
done < "$RUN_DIR/pids"
# Up to 15 s, looked at five times a second.
for _ in $(seq 1 75); do
  alive=0
  while read -r pid _ _; do kill -0 "$pid" 2>/dev/null && alive=1; done < "$RUN_DIR/pids"
  [ $alive = 0 ] && break
  sleep 0.2
done
while read -r pid name _; do
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; echo "killed $name ($pid)"; fi
done < "$RUN_DIR/pids"
rm -f "$RUN_DIR/pids"
