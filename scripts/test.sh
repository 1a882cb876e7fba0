#!/usr/bin/env bash
# The test command: installs the pinned tools the tests use, runs every test, then the
# end-to-end demo on the emulator with a shorter clock (4 simulated hours and a 1-hour stall:
# the RPO verdict, the alarm, and the hourly retention of the demo's RetentionHours policy).
set -euo pipefail
cd "$(dirname "$0")/.."
t=$(date +%s)
scripts/setup-tools.sh lint checkov moto lambda sceptre iam statelint chromium
echo "test: tool setup took $(( $(date +%s) - t )) s"
# Tests that need the emulator, cargo-lambda or the linters are #[ignore = "needs make test"]
# so plain `cargo test` reports them as ignored; here they all run. Benches stay out (make bench).
stage() { echo "test: $1 took $(( $(date +%s) - $2 )) s"; }
# shellcheck source=scripts/heartbeat.sh
source scripts/heartbeat.sh
t=$(date +%s)
AWS_EC2_METADATA_DISABLED=true .tools/moto/bin/python -m unittest tests/emulator/test_launcher.py \
  tests/emulator/test_iam_eval.py tests/emulator/test_cloudformation_deploy.py
stage "emulator launcher tests" "$t"
t=$(date +%s)
heartbeat "test: cargo build of the tests" cargo test --workspace --all-targets --no-run "$@"
stage "cargo build of the tests" "$t"
# Three groups run at once (cargo runs one test binary after the other, and the emulator tests
# mostly wait on the emulator): the macro crate (cfn-lint, checkov, statelint, parliament), the
# provider's emulator tests, and the provider's other tests. Each group's log is printed whole.
t=$(date +%s)
logs=target/test-logs
rm -rf "$logs" && mkdir -p "$logs"
other=()
for f in provider/tests/*.rs; do
  name=$(basename "$f" .rs)
  [[ $name == emulator_* ]] || other+=(--test "$name")
done
group() {
  local name="$1" started
  shift
  started=$(date +%s)
  if cargo test --no-fail-fast "$@" -- --include-ignored > "$logs/$name.log" 2>&1; then
    echo "ok $(( $(date +%s) - started ))" > "$logs/$name.status"
  else
    echo "FAILED $(( $(date +%s) - started ))" > "$logs/$name.status"
  fi
}
pids=()
group macro -p rds-snapshot-policy-macro --lib --bins --tests "$@" &
pids+=($!)
group provider-emulator -p rds-snapshot-policy-provider --test 'emulator_*' "$@" &
pids+=($!)
group provider-other -p rds-snapshot-policy-provider --lib --bins "${other[@]}" "$@" &
pids+=($!)
while kill -0 "${pids[@]}" 2>/dev/null; do
  sleep 10
  echo "test: cargo test still running after $(( $(date +%s) - t )) s: $(cd "$logs" && ls ./*.status 2>/dev/null | wc -l) of 3 groups done" >&2
done
wait
failed=0
for name in macro provider-emulator provider-other; do
  read -r verdict secs < "$logs/$name.status"
  echo "===== test group $name: $verdict in $secs s ($logs/$name.log)"
  cat "$logs/$name.log"
  [[ $verdict == ok ]] || failed=1
done
stage "cargo test" "$t"
if (( failed )); then
  grep -h -E "^test .* FAILED$|panicked at" "$logs"/*.log || true
  echo "test: cargo test failed (logs in $logs)" >&2
  exit 1
fi
t=$(date +%s)
echo "test: sceptre launch of the whole project on the emulator"
AWS_EC2_METADATA_DISABLED=true .tools/moto/bin/python tests/deploy/sceptre_launch.py --workdir target/sceptre-launch
stage "sceptre launch" "$t"
t=$(date +%s)
echo "test: end-to-end pipeline on the emulator"
AWS_EC2_METADATA_DISABLED=true .tools/moto/bin/python tests/demo/demo.py --hours 4 --stall-hours 1 --workdir target/demo-test
stage "end-to-end demo" "$t"
