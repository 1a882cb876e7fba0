#!/usr/bin/env bash
# The pipeline's commands (buildspec.yml calls one per CodeBuild phase), runnable anywhere:
#   install P    what phase P needs: for build, the Rust toolchain of Cargo.toml's rust-version and
#                the Python/npm tools, unless present (CodeBuild's local cache keeps them between
#                builds); for deploy-*, sceptre; for verify, nothing (the build wrote the CLI)
#   build        lint, tests (without the two browser tests: no Chromium package on the image),
#                both Lambda packages and the CLI to dist/, then upload
#   upload       the packages to each region's code bucket (LAMBDA_BUCKETS; RSP_DIST, default dist/)
#   deploy-dr    sceptre launch of the DR account's stack group
#   deploy-prod  sceptre launch of the production account's stack group
#   verify       `rds-snapshot-policy status` across both accounts after the deploy (read-only)
# Each phase first checks what it needs and names what is missing. Environment:
#   RUSTUP_INIT_URL     where install fetches rustup-init when no cargo is on PATH (the Rust
#                       project's published x86_64-unknown-linux-gnu rustup-init, or a mirror)
#   RUSTUP_INIT_SHA256  its SHA-256, checked when set
#   LAMBDA_BUCKETS      build: "region=bucket ..." (Lambda reads code only from its own region)
#   SCEPTRE_VARS        deploy-*: sceptre/vars/<name>.yaml
#   PROD_ROLE_ARN, DR_ROLE_ARN, PROD_REGION, DR_REGION  verify: the read-only roles status reads
#                       with (assumed with the stage's credentials by scripts/assume_profiles.py)
set -euo pipefail
cd "$(dirname "$0")/.."
phase="${1:?usage: scripts/pipeline.sh install PHASE|build|upload|deploy-dr|deploy-prod|verify}"
rust_version=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
toolchain="$rust_version.0"
export PATH="$HOME/.cargo/bin:$PATH"

need() {
  local missing=()
  for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
  if ((${#missing[@]})); then
    echo "pipeline: the $phase phase needs ${missing[*]} on PATH (the CodeBuild image documents python3, make, zip, git, npm)" >&2
    exit 2
  fi
}

rust_ok() {
  command -v cargo >/dev/null 2>&1 && [[ "$(rustc --version 2>/dev/null)" == "rustc $rust_version."* ]] &&
    command -v cargo-clippy >/dev/null 2>&1 && command -v rustfmt >/dev/null 2>&1
}

case "$phase" in
  install)
    for_phase="${2:-build}"
    if [[ "$for_phase" == deploy-* || "$for_phase" == upload ]]; then
      need python3
      scripts/setup-tools.sh sceptre
      exit 0
    elif [[ "$for_phase" == verify ]]; then
      need python3
      scripts/setup-tools.sh sceptre  # boto3, to assume the status roles
      exit 0
    fi
    need python3 curl
    if ! rust_ok; then
      if ! command -v rustup >/dev/null 2>&1; then
        [[ -n "${RUSTUP_INIT_URL:-}" ]] || {
          echo "pipeline: no Rust $toolchain and no rustup: set RUSTUP_INIT_URL (the pipeline's RustupInitUrl parameter)" >&2
          exit 2
        }
        curl --proto '=https' --tlsv1.2 -sSf -o /tmp/rustup-init "$RUSTUP_INIT_URL"
        if [[ -n "${RUSTUP_INIT_SHA256:-}" ]]; then
          echo "$RUSTUP_INIT_SHA256  /tmp/rustup-init" | sha256sum -c - >&2
        fi
        chmod +x /tmp/rustup-init
        /tmp/rustup-init -y --no-modify-path --profile minimal --default-toolchain none
      fi
      rustup toolchain install "$toolchain" --profile minimal --component clippy,rustfmt
      rustup default "$toolchain"
    fi
    rust_ok || { echo "pipeline: Rust is not $toolchain after the install: $(rustc --version 2>&1)" >&2; exit 2; }
    echo "pipeline: $(rustc --version), $(cargo --version)"
    scripts/setup-tools.sh lint checkov moto lambda sceptre iam statelint
    ;;
  build)
    need cargo python3 make zip npm
    rust_ok || { echo "pipeline: build needs Rust $toolchain (run the install phase)" >&2; exit 2; }
    [[ -n "${LAMBDA_BUCKETS:-}" ]] || { echo "pipeline: build needs LAMBDA_BUCKETS" >&2; exit 2; }
    make lint
    RSP_NO_BROWSER=1 make test
    scripts/package.sh
    cp target/debug/rds-snapshot-policy dist/rds-snapshot-policy
    exec bash scripts/pipeline.sh upload
    ;;
  upload)
    # The packages of this version and SHA256SUMS to each region's code bucket, with boto3 from
    # the pinned sceptre environment (no AWS CLI needed).
    need python3
    [[ -n "${LAMBDA_BUCKETS:-}" ]] || { echo "pipeline: upload needs LAMBDA_BUCKETS" >&2; exit 2; }
    scripts/setup-tools.sh sceptre
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
    # shellcheck disable=SC2086
    .tools/sceptre/bin/python scripts/upload_packages.py "${RSP_DIST:-dist}" "$version" $LAMBDA_BUCKETS
    ;;
  deploy-dr|deploy-prod)
    need python3
    [[ -n "${SCEPTRE_VARS:-}" ]] || { echo "pipeline: $phase needs SCEPTRE_VARS" >&2; exit 2; }
    scripts/setup-tools.sh sceptre
    group=${phase#deploy-}
    (cd sceptre && ../.tools/sceptre/bin/sceptre --var-file "vars/$SCEPTRE_VARS.yaml" launch --yes "$group")
    ;;
  verify)
    cli="${RSP_CLI:-dist/rds-snapshot-policy}"
    [[ -x "$cli" ]] || { echo "pipeline: verify needs the CLI the build wrote ($cli)" >&2; exit 2; }
    for var in PROD_ROLE_ARN DR_ROLE_ARN PROD_REGION DR_REGION; do
      [[ -n "${!var:-}" ]] || { echo "pipeline: verify needs $var" >&2; exit 2; }
    done
    mkdir -p target/verify
    config=target/verify/aws-config
    scripts/setup-tools.sh sceptre
    .tools/sceptre/bin/python scripts/assume_profiles.py "$config" "prod=$PROD_ROLE_ARN@$PROD_REGION" \
      "dr=$DR_ROLE_ARN@$DR_REGION"
    status=0
    AWS_CONFIG_FILE="$config" "$cli" status --source-profile prod --dr-profile dr --json > target/verify/status.json || status=$?
    AWS_CONFIG_FILE="$config" "$cli" status --source-profile prod --dr-profile dr --format markdown \
      --output target/verify/status.md || true
    # 0: protected; 3: at risk (a first deploy has no DR copy yet); anything else: status failed.
    if ((status != 0 && status != 3)); then
      echo "pipeline: status failed (exit $status); see above" >&2
      exit 1
    fi
    python3 - target/verify/status.json <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
print(f"pipeline: status {report['verdict']}: {len(report['policies'])} policies, "
      + ", ".join(f"{d['database']} {d.get('recoveryPointAgeMinutes', '-')} min" for d in report["databases"]))
if not report["policies"]:
    sys.exit("pipeline: status found no deployed policy in either account")
EOF
    ;;
  *) echo "pipeline: unknown phase $phase" >&2; exit 2 ;;
esac
