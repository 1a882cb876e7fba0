#!/usr/bin/env bash
# Lints CloudFormation templates with the project's pinned cfn-lint and checkov (offline).
# Usage: scripts/check-templates.sh FILE...   Exit 0 only if both tools accept every file.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup-tools.sh" lint checkov >&2
[[ $# -gt 0 ]] || { echo "usage: $0 FILE..." >&2; exit 2; }
# The two tools run at once (each is single-threaded); their outputs print one after the other.
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$root/.tools/lint/bin/cfn-lint" --non-zero-exit-code error -- "$@" > "$out/cfn-lint" 2>&1 &
lint=$!
checkov_args=()
for f in "$@"; do checkov_args+=(-f "$f"); done
# Offline: no guideline download, no update check, no mapping fetch.
BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE \
  "$root/.tools/checkov/bin/checkov" --framework cloudformation --compact --quiet \
  --skip-download --config-file "$root/.checkov.yaml" "${checkov_args[@]}" > "$out/checkov" 2>&1 &
checkov=$!
status=0
wait "$lint" || { status=1; echo "cfn-lint refused:"; }
cat "$out/cfn-lint"
wait "$checkov" || { status=1; echo "checkov refused:"; }
cat "$out/checkov"
exit $status
