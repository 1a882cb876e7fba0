#!/usr/bin/env bash
# The local demo. Today it shows the macro: the example stacks' one-line policies expanded
# into their pipelines, then checked by cfn-lint and checkov. (The emulator run of the
# provider joins it as the provider lands; see the README's status section.)
set -euo pipefail
cd "$(dirname "$0")/.."
out=.demo
mkdir -p "$out"
echo "demo: building the CLI"
cargo build --quiet --bin rds-snapshot-policy
cli=target/debug/rds-snapshot-policy
declare -A accounts=([source]=111111111111 [aurora]=111111111111 [destination]=222222222222)
declare -A regions=([source]=eu-west-1 [aurora]=eu-west-1 [destination]=eu-central-1)
for name in source aurora destination; do
  "$cli" expand "templates/examples/$name.yaml" --region "${regions[$name]}" \
    --account-id "${accounts[$name]}" > "$out/$name.json"
  count=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["Resources"]))' "$out/$name.json")
  machines=$(python3 -c 'import json,sys; print(", ".join(k for k,v in json.load(open(sys.argv[1]))["Resources"].items() if v["Type"]=="AWS::StepFunctions::StateMachine"))' "$out/$name.json")
  echo "demo: templates/examples/$name.yaml -> $out/$name.json: $count resources; state machines: $machines"
done
echo "demo: checking the expanded templates with cfn-lint and checkov"
scripts/check-templates.sh "$out"/source.json "$out"/aurora.json "$out"/destination.json > "$out/check.log" 2>&1 \
  || { cat "$out/check.log"; echo "demo: FAILED: a template did not pass the checks"; exit 1; }
grep -E "Passed checks" "$out/check.log" || true
echo "demo: OK"
