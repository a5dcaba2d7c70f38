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
cargo test --locked
