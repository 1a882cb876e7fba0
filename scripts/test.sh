#!/usr/bin/env bash
# The test command: installs the pinned tools the tests use, builds every test, then runs the
# test binaries, the sceptre launch and the end-to-end demo as one pool (scripts/test_pool.py).
set -euo pipefail
cd "$(dirname "$0")/.."
# RSP_NO_BROWSER=1 (the pipeline): no Chromium, and the two browser tests are skipped.
browser=chromium
[[ "${RSP_NO_BROWSER:-}" == 1 ]] && browser=""
stage() { echo "test: $1 took $(( $(date +%s) - $2 )) s"; }
# shellcheck source=scripts/heartbeat.sh
source scripts/heartbeat.sh
mkdir -p target
t=$(date +%s)
scripts/setup-tools.sh lint checkov moto lambda sceptre iam statelint $browser
stage "tool setup" "$t"
# mdBook (the book's builder, compiled: about 130 CPU-seconds) compiles beside the tests'
# build at the lowest priority, taking the cores the build leaves idle, and never beside the
# pool's timing tests. Its lines go to target/book-setup.log, printed when it ends.
nice -n 19 scripts/setup-tools.sh book > target/book-setup.log 2>&1 &
book_setup=$!
t=$(date +%s)
# The build's JSON messages name every test executable for the pool below; its diagnostics
# are printed as cargo prints them.
heartbeat "test: cargo build of the tests" bash -c 'set -o pipefail
  cargo test --workspace --all-targets --no-run --message-format=json |
    python3 scripts/cargo_artifacts.py target/test-artifacts.json'
stage "cargo build of the tests" "$t"
t=$(date +%s)
last=$t
while kill -0 "$book_setup" 2>/dev/null; do
  sleep 1
  if (( $(date +%s) - last >= 10 )); then
    echo "test: waiting for mdBook's compile ($(( $(date +%s) - t )) s)" >&2
    last=$(date +%s)
  fi
done
book_status=0
wait "$book_setup" || book_status=$?
cat target/book-setup.log
(( book_status == 0 )) || { echo "test: installing mdBook failed (above)" >&2; exit 1; }
stage "the rest of mdBook's compile" "$t"
# The emulator does not throttle and the tests compress hours into minutes: no pacing at RDS's
# 12 requests a second (provider/src/aws/pace.rs has its own tests; make bench-pacing measures it).
export RSP_RDS_REQUESTS_PER_SECOND=100000
# Tests that need the emulator, cargo-lambda or the linters are #[ignore = "needs make test"]
# so plain `cargo test` reports them as ignored; here they all run. Benches stay out (make bench).
t=$(date +%s)
AWS_EC2_METADATA_DISABLED=true .tools/moto/bin/python -m unittest tests/emulator/test_launcher.py \
  tests/emulator/test_iam_eval.py tests/emulator/test_cloudformation_deploy.py \
  tests/deploy/test_acceptance_preflight.py
stage "emulator launcher tests" "$t"
t=$(date +%s)
# The book and the top-level documents: chapters listed, every link and anchor resolves.
.tools/moto/bin/python -m unittest -q scripts/test_check_docs.py
.tools/moto/bin/python scripts/check_docs.py
# The shipped JSON Schema of the policy Properties, with a real validator (jsonschema).
.tools/lint/bin/python -m unittest -q scripts/test_policy_schema.py
stage "docs links" "$t"
# One pool of jobs, three at a time, longest first: every test binary (cargo would run them one
# after the other, most waiting on an emulator), the sceptre launch of the whole project and
# the end-to-end demo on the emulator with a shorter clock (4 simulated hours and a 1-hour
# stall: the RPO verdict, the alarm, and the hourly retention of the demo's RetentionHours
# policy), the acceptance run on the emulator (all nine checks, a 700-snapshot backlog, the provider
# with 4 reserved concurrency, nothing left after its teardown) and the same run interrupted after its third check. Arguments are test-name filters for every test binary (the two commands then stay
# out). Logs: target/test-logs/<job>.log.
t=$(date +%s)
logs=target/test-logs
rm -rf "$logs"
status=0
AWS_EC2_METADATA_DISABLED=true .tools/moto/bin/python scripts/test_pool.py \
  --artifacts target/test-artifacts.json --logs "$logs" --jobs 3 \
  --command sceptre-launch ".tools/moto/bin/python tests/deploy/sceptre_launch.py --workdir target/sceptre-launch" \
  --command demo ".tools/moto/bin/python tests/demo/demo.py --hours 4 --stall-hours 1 --workdir target/demo-test" \
  --command acceptance ".tools/moto/bin/python acceptance/acceptance.py --emulator --yes --backlog 700 --provider-concurrency 4 --report-dir target/acceptance --workdir target/acceptance" \
  --command acceptance-interrupted ".tools/moto/bin/python tests/deploy/acceptance_interrupted.py --workdir target/acceptance-interrupted" \
  -- "$@" || status=$?
stage "test pool" "$t"
# The book (mdBook, compiled beside the build): built after the pool, in about a second.
if (( status == 0 )); then
  t=$(date +%s)
  .tools/book/bin/mdbook build docs || status=$?
  stage "book" "$t"
fi
if (( status )); then
  grep -h -E "^test .* FAILED$|panicked at" "$logs"/*.log || true
  echo "test: failed (logs in $logs)" >&2
  exit 1
fi
