#!/usr/bin/env bash
# Runs every test of the workspace, installing what the tests need first.
# Arguments go to nextest (e.g. -p sql, or a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/duet-target}"
exec cargo nextest run --workspace --no-fail-fast "$@"
