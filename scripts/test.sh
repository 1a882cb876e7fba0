#!/usr/bin/env bash
# The test command: installs the pinned tools the tests use, runs every test, then the
# end-to-end demo on the emulator with a shorter clock (27.5 simulated hours: one retention cycle).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-tools.sh lint checkov moto lambda sceptre
cargo test --workspace --all-targets "$@"
echo "test: end-to-end pipeline on the emulator"
AWS_EC2_METADATA_DISABLED=true .tools/moto/bin/python tests/demo/demo.py --hours 27.5 --workdir target/demo-test
