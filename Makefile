# The two commands of the quick start are `make demo` and `make test`.
.PHONY: demo test lint build setup bench package

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

build:
	cargo build --release

setup:
	bash scripts/setup-tools.sh lint checkov moto

bench:
	cargo bench -p rds-snapshot-policy-provider --bench core

package:
	bash scripts/package.sh
