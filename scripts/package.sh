#!/usr/bin/env bash
# Builds both Lambdas for the provided.al2023 runtime (x86_64) with cargo-lambda and writes
#   dist/rds-snapshot-policy-macro-<version>-x86_64.zip
#   dist/rds-snapshot-policy-provider-<version>-x86_64.zip
#   dist/SHA256SUMS
# each zip holding the `bootstrap` binary. Uses the release profile of Cargo.toml (opt-level
# "s", LTO, one codegen unit, stripped: small binaries, fast cold starts).
# arm64 (Graviton) needs the aarch64 standard library (`rustup target add
# aarch64-unknown-linux-gnu`) and `--arm64`: ARCH=arm64 scripts/package.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-tools.sh lambda
export PATH="$PWD/.tools/lambda/bin:$PATH"
arch="${ARCH:-x86_64}"
flag=(--x86-64)
[[ "$arch" == "arm64" ]] && flag=(--arm64)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
mkdir -p dist
# Each binary is built from its own package (--package): the macro's build then resolves the
# policy core without the features the provider and the CLI add (YAML), and no AWS SDK.
for pair in rds-snapshot-policy-macro:rds-snapshot-policy-macro rds-snapshot-policy:rds-snapshot-policy-provider; do
  package="${pair%%:*}" bin="${pair##*:}"
  cargo lambda build --release "${flag[@]}" --output-format zip --package "$package" --bin "$bin"
  cp "target/lambda/$bin/bootstrap.zip" "dist/$bin-$version-$arch.zip"
done
(cd dist && sha256sum ./*-"$version"-"$arch".zip > SHA256SUMS)
cat dist/SHA256SUMS
