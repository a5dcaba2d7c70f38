#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root: installs and starts what the
# tests need (tests/setup-services.sh), then format, lints and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(tests/setup-services.sh)"
# Tests that need MariaDB / PostgreSQL fail instead of skipping when a server is missing.
export PBX_TEST_REQUIRE_DATABASES=1
export PBX_TEST_REQUIRE_TOOLS=1

cargo fmt --check
cargo clippy --all-targets -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --locked --no-fail-fast 2>&1 | tee "$log"
# One closing line over all test binaries (the last binary, the doc tests, may hold none).
awk '/^test result:/ { passed += $4; failed += $6; ignored += $8 }
     END { printf "%d passed, %d failed, %d skipped\n", passed, failed, ignored }' "$log"
