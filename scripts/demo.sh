#!/usr/bin/env bash
# The main job: the whole DR pipeline on the local AWS emulator, in one command.
# Installs the pinned emulator and cargo-lambda (project-local, .tools/), builds, then runs
# tests/demo/demo.py: deploys the example stacks through the real macro into the emulator's
# CloudFormation, and runs a compressed day of schedules through the emulator's Step Functions
# and the real provider. Extra arguments go to demo.py (for example --hours 6).
# Everything it starts is stopped on exit; logs stay in .demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
scripts/setup-tools.sh moto lambda
if [[ -x target/debug/rds-snapshot-policy-provider ]]; then
  echo "demo: building (incremental)"
else
  echo "demo: building the workspace in debug: about 6 minutes the first time on 2 cores, seconds afterwards"
fi
# shellcheck source=scripts/heartbeat.sh
source scripts/heartbeat.sh
heartbeat "demo: cargo build" cargo build --bins
echo "demo: tools and build took $(( $(date +%s) - started )) s; starting the emulator"
export AWS_EC2_METADATA_DISABLED=true
# The emulator does not throttle, and the demo compresses hours into minutes: the provider's
# pacing at RDS's 12 requests a second (provider/src/aws/pace.rs) would make it take hours.
export RSP_RDS_REQUESTS_PER_SECOND=100000
exec .tools/moto/bin/python tests/demo/demo.py "$@"
