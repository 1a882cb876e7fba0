#!/usr/bin/env bash
# Installs the project's pinned tools into project-local directories under .tools/: Python
# virtualenvs (made by uv, itself pinned; pip if uv fails), npm packages (statelint), one crate
# (mdbook) and one Debian package (chromium). Idempotent: a tool whose pins are already
# installed is left alone.
# Usage: scripts/setup-tools.sh [lint] [checkov] [moto] [aws] [lambda] [sceptre] [iam] [statelint] [chromium] [book]
#        (default: lint checkov moto)
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="$PWD/.tools"
PY="${PYTHON:-python3}"

declare -A PINS=(
  [lint]="cfn-lint==1.51.0 jsonschema==4.26.0"
  [checkov]="checkov==3.3.30"
  [moto]="moto[server]==5.2.5 boto3==1.43.11 cbor2==5.6.5"
  # The acceptance run against real accounts (acceptance/acceptance.py): the AWS SDK for Python.
  [aws]="boto3==1.43.11 PyYAML==6.0.4"
  [lambda]="cargo-lambda==1.9.2 ziglang==0.15.1 cargo-zigbuild==0.20.1"
  [sceptre]="sceptre==4.7.0"
  # parliament imports pkg_resources: setuptools as Python 3.11's `venv` used to bring it.
  [iam]="parliament==1.6.4 setuptools==65.5.0"
  [statelint]="npm:@wmfs/statelint@1.30.0"
  # Debian's security archive keeps only the current build, so the package is not pinned to a
  # version (the HTML report test needs any headless Chromium).
  [chromium]="apt:chromium-headless-shell"
  # The book's builder (make book; make test checks the book's links without it): compiled from
  # crates.io without its server and file watcher, about 3 minutes on 2 cores.
  [book]="cargo:mdbook@0.5.4"
)
# The installer of the Python tool sets (bootstrapped with pip): uv resolves and installs the
# sets above in well under a minute on 2 cores where pip took 130 s and 250 CPU-seconds. It
# compiles the bytecode at install, on both cores: left to the first import, the test pool's
# concurrent first runs of moto, cfn-lint and checkov each compiled it again (the pool took
# 506 s instead of 430). pip stays the fallback if uv fails.
UV_PIN="uv==0.13.9"

install_one() {
  local name="$1" venv="$TOOLS/$1" stamp="$TOOLS/$1/.pins"
  if [[ "${PINS[$name]}" == apt:* ]]; then
    local package="${PINS[$name]#apt:}" sudo=""
    dpkg -s "$package" >/dev/null 2>&1 && return 0
    [[ "$(id -u)" -eq 0 ]] || sudo="sudo"
    echo "setup-tools: installing the Debian package $package" >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" \
      || { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package"; }
    return 0
  fi
  if [[ -f "$stamp" && "$(cat "$stamp")" == "${PINS[$name]}" ]]; then
    return 0
  fi
  echo "setup-tools: installing ${PINS[$name]} into .tools/$name" >&2
  rm -rf "$venv"
  if [[ "${PINS[$name]}" == cargo:* ]]; then
    # Unoptimized: it compiles in about 70 s instead of 120 on 2 cores, and still builds the
    # book in about a second.
    CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 \
      CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_LTO=false \
      cargo install --quiet --locked --no-default-features --features search --root "$venv" "${PINS[$name]#cargo:}"
    echo "${PINS[$name]}" > "$stamp"
    return 0
  fi
  if [[ "${PINS[$name]}" == npm:* ]]; then
    # shellcheck disable=SC2086
    npm install --silent --no-audit --no-fund --prefix "$venv" ${PINS[$name]#npm:}
    echo "${PINS[$name]}" > "$stamp"
    return 0
  fi
  # shellcheck disable=SC2086
  if ! uv_install "$venv" ${PINS[$name]}; then
    echo "setup-tools: uv could not install ${PINS[$name]}; pip instead" >&2
    rm -rf "$venv"
    "$PY" -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install --quiet --disable-pip-version-check ${PINS[$name]}
  fi
  echo "${PINS[$name]}" > "$stamp"
}

# A virtualenv at $1 (with pip and setuptools, as `python -m venv` makes it) holding the pins
# $2...; pip's index settings (find-links, certificate) are passed on, since uv reads its own.
uv_install() {
  local venv="$1" uv="$TOOLS/uv/bin/uv"
  shift
  [[ -x "$uv" ]] || return 1
  local extra=() cert=()
  [[ -n "${PIP_FIND_LINKS:-}" ]] && extra+=(--find-links "$PIP_FIND_LINKS")
  [[ -n "${PIP_CERT:-}" ]] && cert+=("SSL_CERT_FILE=$PIP_CERT")
  env "${cert[@]}" "$uv" venv --quiet --seed --python "$PY" "$venv" &&
    env "${cert[@]}" "$uv" pip install --quiet --compile-bytecode --python "$venv/bin/python" "${extra[@]}" "$@"
}

# uv itself, with pip, once (a failure leaves the tool sets to pip).
ensure_uv() {
  [[ -f "$TOOLS/uv/.pins" && "$(cat "$TOOLS/uv/.pins")" == "$UV_PIN" ]] && return 0
  rm -rf "$TOOLS/uv"
  if "$PY" -m venv "$TOOLS/uv" && "$TOOLS/uv/bin/pip" install --quiet --disable-pip-version-check "$UV_PIN"; then
    echo "$UV_PIN" > "$TOOLS/uv/.pins"
  else
    echo "setup-tools: could not install $UV_PIN; the Python tool sets use pip" >&2
    rm -rf "$TOOLS/uv"
  fi
}

# Whether tool set $1 is already installed as pinned.
installed() {
  local name="$1"
  if [[ "${PINS[$name]}" == apt:* ]]; then
    dpkg -s "${PINS[$name]#apt:}" >/dev/null 2>&1
  else
    [[ -f "$TOOLS/$name/.pins" && "$(cat "$TOOLS/$name/.pins")" == "${PINS[$name]}" ]]
  fi
}

mkdir -p "$TOOLS"
wanted=("$@")
[[ ${#wanted[@]} -eq 0 ]] && wanted=(lint checkov moto)
pids=()
started=$(date +%s)
for name in "${wanted[@]}"; do
  [[ -n "${PINS[$name]:-}" ]] || { echo "setup-tools: unknown tool set '$name'" >&2; exit 2; }
  [[ "${PINS[$name]}" == *:* ]] || installed "$name" || { ensure_uv || true; break; }
done
for name in "${wanted[@]}"; do
  [[ -n "${PINS[$name]:-}" ]] || { echo "setup-tools: unknown tool set '$name'" >&2; exit 2; }
  installed "$name" && continue
  # Progress shows at once on a fresh machine; the details go to the tool's log.
  echo "setup-tools: installing $name (${PINS[$name]}), log in .tools/$name.log" >&2
  install_one "$name" > "$TOOLS/$name.log" 2>&1 &
  pids+=("$!:$name")
done
status=0
last=$started
for entry in "${pids[@]}"; do
  pid="${entry%%:*}"; name="${entry#*:}"
  # A line at least every 10 seconds while anything installs.
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if (( $(date +%s) - last >= 10 )); then
      running=()
      for other in "${pids[@]}"; do
        kill -0 "${other%%:*}" 2>/dev/null && running+=("${other#*:}")
      done
      echo "setup-tools: still installing ${running[*]} ($(( $(date +%s) - started )) s)" >&2
      last=$(date +%s)
    fi
  done
  if wait "$pid"; then
    echo "setup-tools: $name ready after $(( $(date +%s) - started )) s" >&2
  else
    echo "setup-tools: installing '$name' failed; log follows" >&2
    cat "$TOOLS/$name.log" >&2 || true
    status=1
  fi
done
exit $status
