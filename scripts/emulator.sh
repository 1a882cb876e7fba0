#!/usr/bin/env bash
# `make emulator`: the emulator alone, with the two accounts, a few databases and their AWS
# profiles (tests/emulator/standalone.py). Extra arguments go to it (--port N, --workdir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-tools.sh moto
export AWS_EC2_METADATA_DISABLED=true
exec .tools/moto/bin/python tests/emulator/standalone.py "$@"
