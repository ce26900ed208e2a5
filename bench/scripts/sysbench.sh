#!/usr/bin/env bash
# Runs sysbench OLTP workloads against duet (a playground) and MariaDB
# (started here on a loopback port with its durable defaults) in one run, and
# prints per workload: duet QPS, MariaDB QPS, and duet/MariaDB.
#
# Usage: bench/scripts/sysbench.sh [--threads N] [--time SECONDS]
#                                  [--tables N] [--table-size N]
# Needs: sysbench, mariadb-server (apt), a built `duet` binary (cargo build).
set -euo pipefail
cd "$(dirname "$0")/../.."

threads=8
time=20
tables=4
table_size=10000
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --time) time="$2"; shift 2 ;;
    --tables) tables="$2"; shift 2 ;;
    --table-size) table_size="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/duet-target}"
duet="$CARGO_TARGET_DIR/debug/duet"
# The same build as the tests (other flags unify features differently and
# rebuild DataFusion).
[ -x "$duet" ] || cargo build -q --workspace --tests --bins
command -v sysbench >/dev/null || { echo "sysbench is missing (apt-get install sysbench)" >&2; exit 1; }
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || { echo "mariadb-server is missing (apt-get install mariadb-server)" >&2; exit 1; }
mariadbd_bin="$(command -v mariadbd || echo /usr/sbin/mariadbd)"

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- duet ------------------------------------------------------------------
pd_port=$(free_port); kv_port=$(( $(free_port) ))
duet_port=$(free_port); columnar_port=$(free_port)
"$duet" playground --data-dir "$work/duet" --pd-port "$pd_port" --kv-base-port "$kv_port" \
  --columnar-port "$columnar_port" --sql-port "$duet_port" > "$work/duet.out" 2> "$work/duet.log" &
pids+=($!)
for _ in $(seq 1 600); do grep -q ready "$work/duet.out" 2>/dev/null && break; sleep 0.2; done
grep -q ready "$work/duet.out" || { echo "duet playground did not start" >&2; tail "$work/duet.log" >&2; exit 1; }

# --- MariaDB (durable defaults: innodb_flush_log_at_trx_commit=1) ----------
maria_port=$(free_port)
mariadb-install-db --no-defaults --datadir="$work/maria" --user="$(id -un)" \
  --auth-root-authentication-method=normal > "$work/maria-install.log" 2>&1
"$mariadbd_bin" --no-defaults --datadir="$work/maria" --port="$maria_port" --bind-address=127.0.0.1 \
  --socket="$work/maria.sock" --user="$(id -un)" --innodb-buffer-pool-size=512M \
  --max-connections=200 > "$work/maria.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do mariadb -h 127.0.0.1 -P "$maria_port" -u root -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done

sb() { # port workload command [extra...]
  local port=$1 workload=$2 cmd=$3; shift 3
  sysbench "$workload" --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$port" \
    --mysql-user=root --mysql-db=sbtest --tables="$tables" --table-size="$table_size" \
    --threads="$threads" --time="$time" --report-interval=0 --db-ps-mode=auto "$@" "$cmd"
}

qps() { grep -E '^\s+queries:' | sed -E 's/.*\(([0-9.]+) per sec.*/\1/'; }
errors() { grep -E '^\s+ignored errors:' | sed -E 's/.*ignored errors: *([0-9]+).*/\1/'; }

for port in "$duet_port" "$maria_port"; do
  mariadb -h 127.0.0.1 -P "$port" -u root -e 'CREATE DATABASE IF NOT EXISTS sbtest'
  sb "$port" oltp_read_write prepare > "$work/prepare-$port.log" 2>&1 || {
    echo "prepare failed on port $port:" >&2; tail -20 "$work/prepare-$port.log" >&2; exit 1; }
done

printf '%-20s %12s %12s %8s %s\n' workload duet_qps mariadb_qps ratio errors
for w in oltp_point_select oltp_read_only oltp_read_write oltp_insert oltp_update_index; do
  sb "$duet_port" "$w" run > "$work/$w-duet.log" 2>&1 || { echo "$w failed on duet:" >&2; tail -20 "$work/$w-duet.log" >&2; }
  sb "$maria_port" "$w" run > "$work/$w-maria.log" 2>&1 || { echo "$w failed on MariaDB:" >&2; tail -20 "$work/$w-maria.log" >&2; }
  d=$(qps < "$work/$w-duet.log" || true); m=$(qps < "$work/$w-maria.log" || true)
  de=$(errors < "$work/$w-duet.log" || true)
  ratio=$(python3 -c "print(f'{float(\"${d:-0}\")/float(\"${m:-1}\"):.2f}')" 2>/dev/null || echo "?")
  printf '%-20s %12s %12s %8s %s\n' "$w" "${d:-fail}" "${m:-fail}" "$ratio" "duet_ignored_errors=${de:-?}"
done
