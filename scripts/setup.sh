#!/usr/bin/env bash
# Installs what a fresh Debian machine with only a Rust toolchain lacks.
#
#   scripts/setup.sh playground   # what `cargo run --bin duet` needs:
#                                 # clang and libclang (RocksDB's bindings)
#   scripts/setup.sh test         # and what the tests drive: cargo-nextest,
#                                 # the MariaDB client, sysbench, the Python
#                                 # and Node.js MySQL clients, tpchgen-cli
#                                 # and DuckDB; rustfmt and clippy for CI
#
# Each step runs only when its tool is missing, so a second run is quick.
set -euo pipefail
cd "$(dirname "$0")/.."

what="${1:-test}"
case "$what" in
  playground | test) ;;
  *) echo "usage: scripts/setup.sh playground|test" >&2; exit 2 ;;
esac

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
need=()
pkgs=(clang libclang-dev)
# mariadb-client and sysbench: the SQL tests drive them.
[ "$what" = test ] && pkgs+=(mariadb-client sysbench)
for pkg in "${pkgs[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "$what" = test ]; then
  # pip and npm: tests/tests/clients.rs drives Python and Node.js MySQL clients.
  python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
  command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
fi
if [ "${#need[@]}" -gt 0 ]; then
  echo "# installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
[ "$what" = playground ] && exit 0

command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest
# rustfmt and clippy: CI's formatting and lint gates.
if command -v rustup >/dev/null 2>&1; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
  done
fi
# The clients themselves: PyMySQL and MySQL Connector/Python, plus
# tpchgen-cli and DuckDB for the TPC-H test (pinned in requirements.txt;
# Debian's own python3 is "externally managed", so pip needs leave to
# install beside it), mysql2 from package-lock.json.
if ! python3 -c 'import pymysql, mysql.connector, duckdb' >/dev/null 2>&1 ||
   ! command -v tpchgen-cli >/dev/null 2>&1; then
  PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore python3 -m pip install \
    --quiet --disable-pip-version-check -r tests/clients/python/requirements.txt
fi
[ -d tests/clients/node/node_modules ] ||
  npm ci --prefix tests/clients/node --no-audit --no-fund --loglevel=error
