#!/usr/bin/env bash
# Lints CloudFormation templates with the project's pinned cfn-lint and checkov (offline).
# Usage: scripts/check-templates.sh FILE...   Exit 0 only if both tools accept every file.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup-tools.sh" lint checkov >&2
[[ $# -gt 0 ]] || { echo "usage: $0 FILE..." >&2; exit 2; }
status=0
"$root/.tools/lint/bin/cfn-lint" --non-zero-exit-code error -- "$@" || status=1
checkov_args=()
for f in "$@"; do checkov_args+=(-f "$f"); done
# Offline: no guideline download, no update check, no mapping fetch.
BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE \
  "$root/.tools/checkov/bin/checkov" --framework cloudformation --compact --quiet \
  --skip-download --config-file "$root/.checkov.yaml" "${checkov_args[@]}" || status=1
exit $status
