#!/usr/bin/env bash
# The main job: the whole DR pipeline on the local AWS emulator, in one command.
# Installs the pinned emulator and cargo-lambda (project-local, .tools/), builds, then runs
# tests/demo/demo.py: deploys the example stacks through the real macro into the emulator's
# CloudFormation, and runs a compressed day of schedules through the emulator's Step Functions
# and the real provider. Extra arguments go to demo.py (for example --hours 6).
# Everything it starts is stopped on exit; logs stay in .demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-tools.sh moto lambda
echo "demo: building"
cargo build --quiet --bins
export AWS_EC2_METADATA_DISABLED=true
exec .tools/moto/bin/python tests/demo/demo.py "$@"
