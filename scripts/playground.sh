#!/usr/bin/env bash
# Starts a playground cluster (PD, three kv stores, a columnar store and the
# SQL server in one process), installing what the build needs first.
# Arguments go to `duet playground` (e.g. --sql-port 4001).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh playground
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/duet-target}"
exec cargo run --bin duet -- playground "$@"
