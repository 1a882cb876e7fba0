# The two commands of the quick start are `make demo` and `make test`.
.PHONY: demo test lint build setup bench bench-rpo package

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

# The RPO on the emulator: DR lag at 10/50/200 databases, then a 1,300-snapshot backlog.
bench-rpo:
	scripts/setup-tools.sh moto lambda
	cargo build --quiet --bins
	AWS_EC2_METADATA_DISABLED=true .tools/moto/bin/python tests/demo/bench_rpo.py --databases 10,50,200 --hours 2
	AWS_EC2_METADATA_DISABLED=true .tools/moto/bin/python tests/demo/bench_rpo.py --backlog 1300 --hours 24

package:
	bash scripts/package.sh
