#!/usr/bin/env bash
# The test command: installs the pinned tools the tests use, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-tools.sh lint checkov moto lambda sceptre
cargo test --workspace --all-targets "$@"
