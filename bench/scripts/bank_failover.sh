#!/usr/bin/env bash
# The bank workload against separate processes (duet pd + 3x duet kv on
# loopback) while one kv store is killed with SIGKILL and restarted.
#
#   bench/scripts/bank_failover.sh [--pessimistic] [extra duet-bench bank args]
#
# Uses the binaries in $CARGO_TARGET_DIR/debug (builds them first). Prints
# the bench's output; its last line is `transfers=.. conflicts=.. checks=..
# invariant=ok` (or VIOLATED, with a non-zero exit).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/duet-target}"
cargo build -q --bin duet --bin duet-ctl && cargo build -q -p bench
BIN="$CARGO_TARGET_DIR/debug"
SECONDS_RUN="${BANK_SECONDS:-30}"
KILL_AT="${KILL_AT:-8}"
DOWN_FOR="${DOWN_FOR:-6}"
BASE="${BASE_PORT:-23400}"
DIR="$(mktemp -d)"
PD_ADDR="127.0.0.1:$BASE"
pids=()
cleanup() {
  [ -f "$DIR/restarted.pid" ] && pids+=("$(cat "$DIR/restarted.pid")")
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

"$BIN/duet" pd --addr "$PD_ADDR" --data-dir "$DIR/pd" >"$DIR/pd.log" 2>&1 &
pids+=($!)
start_kv() {
  local i=$1
  "$BIN/duet" kv --pd "$PD_ADDR" --addr "127.0.0.1:$((BASE + 1 + i))" \
    --data-dir "$DIR/kv$i" >>"$DIR/kv$i.log" 2>&1 &
  kv_pids[$i]=$!
  pids+=($!)
}
declare -a kv_pids
for i in 0 1 2; do start_kv "$i"; done
# Wait until the first region has three voters.
for _ in $(seq 1 100); do
  if "$BIN/duet-ctl" --pd "$PD_ADDR" region list --json 2>/dev/null | grep -q '"peers"' &&
     [ "$("$BIN/duet-ctl" --pd "$PD_ADDR" store list --json 2>/dev/null | grep -o '"state": *"Up"' | wc -l)" -ge 3 ]; then
    break
  fi
  sleep 0.2
done

"$BIN/duet-bench" bank --pd "$PD_ADDR" --seconds "$SECONDS_RUN" "$@" &
bench=$!
(
  sleep "$KILL_AT"
  # The store leading the most regions.
  addr=$("$BIN/duet-ctl" --pd "$PD_ADDR" store list --json | sed 's/{}//g' | tr '{' '\n' |
    sed -n 's/.*"address":"\([^"]*\)".*"leader_count":\([0-9]*\).*/\2 \1/p' |
    sort -rn | head -1 | cut -d' ' -f2)
  victim=$(( ${addr##*:} - BASE - 1 ))
  echo "killing kv$victim (pid ${kv_pids[$victim]}) with SIGKILL" >&2
  kill -9 "${kv_pids[$victim]}"
  sleep "$DOWN_FOR"
  echo "restarting kv$victim" >&2
  start_kv "$victim"
  echo "${kv_pids[$victim]}" >"$DIR/restarted.pid"
) &
chaos=$!
status=0
wait "$bench" || status=$?
wait "$chaos" 2>/dev/null || true
exit "$status"
