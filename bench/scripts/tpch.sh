#!/usr/bin/env bash
# TPC-H on duet's columnar engine, duet's row engine and DuckDB, on the same
# data in one run: generates the data with tpchgen-cli, starts a playground
# (PD, three kv stores, one columnar store, the SQL server), loads it over the
# MySQL protocol with LOAD DATA LOCAL INFILE, gives every table a columnar
# replica, analyzes the tables, loads DuckDB (in memory, 2 threads), and prints per query the
# seconds on each engine, columnar/DuckDB, row/columnar and whether the
# answers agree (bench/tpch/run.py).
#
# Usage: bench/scripts/tpch.sh [--scale SF] [--runs N] [--engines columnar,row,duckdb]
# Needs: pip install -r tests/clients/python/requirements.txt (tpchgen-cli,
# PyMySQL, DuckDB), a built `duet` binary.
set -euo pipefail
cd "$(dirname "$0")/../.."

scale=1
runs=1
engines=columnar,row,duckdb
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --engines) engines="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/duet-target}"
duet="$CARGO_TARGET_DIR/debug/duet"
# The same build as the tests (other flags unify features differently and
# rebuild DataFusion).
[ -x "$duet" ] || cargo build -q --workspace --tests --bins
command -v tpchgen-cli >/dev/null || { echo "tpchgen-cli is missing (pip install -r tests/clients/python/requirements.txt)" >&2; exit 1; }

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "# generating TPC-H SF $scale" >&2
tpchgen-cli csv -s "$scale" --output-dir "$work/data" >&2

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pd_port=$(free_port); kv_port=$(free_port); columnar_port=$(free_port); sql_port=$(free_port); status_port=$(free_port)
"$duet" playground --data-dir "$work/duet" --pd-port "$pd_port" --kv-base-port "$kv_port" \
  --columnar-port "$columnar_port" --sql-port "$sql_port" --status-port "$status_port" \
  > "$work/duet.out" 2> "$work/duet.log" &
pids+=($!)
for _ in $(seq 1 600); do grep -q ready "$work/duet.out" 2>/dev/null && break; sleep 0.2; done
grep -q ready "$work/duet.out" || { echo "duet playground did not start" >&2; tail "$work/duet.log" >&2; exit 1; }

python3 bench/tpch/run.py --data "$work/data" --port "$sql_port" --runs "$runs" --engines "$engines"
