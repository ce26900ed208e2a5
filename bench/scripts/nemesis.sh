#!/usr/bin/env bash
# The nemesis run for as long as asked: duet pd, 3x duet kv and duet sql as
# processes on loopback; bank, set and register workloads through the SQL
# server while kv stores and PD are killed (-9) and restarted, or paused
# (SIGSTOP) past the election timeout, one fault at a time. The same driver
# (bench::nemesis) runs for a minute in the cli test suite.
#
#   bench/scripts/nemesis.sh [--seed N] [--duration SECONDS] \
#       [--faults kill-kv,kill-pd,pause-kv,pause-pd] [--keep-dir]
#
# Defaults: a random seed (printed first, with the schedule it picks),
# 600 s of faults, all four kinds. Builds the binaries first and uses those
# in $CARGO_TARGET_DIR/debug. Progress goes to stderr; stdout ends with the
# faults injected, any failures and the summary line:
#   seed=.. faults=.. | bank: .. anomalies=0 final=ok | set: .. lost=0 ..
#   | register: .. linearizable=yes | after heal: .. | crashes=0 | PASS
# The exit status is non-zero if a check failed; the data dirs and process
# logs are then kept (their path is printed).
set -euo pipefail
seed=""
duration=600
faults="kill-kv,kill-pd,pause-kv,pause-pd"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) seed="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --faults) faults="$2"; shift 2 ;;
    --keep-dir) extra+=(--keep-dir); shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$seed" ] || seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')

cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/duet-target}"
# The workspace build the tests use too, so the build cache is shared.
cargo build -q --workspace --tests --bins
BIN="$CARGO_TARGET_DIR/debug"

exec "$BIN/duet-bench" nemesis --duet "$BIN/duet" --seed "$seed" \
  --duration "$duration" --faults "$faults" "${extra[@]}"
