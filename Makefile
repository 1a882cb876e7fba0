# The two commands of the quick start are `make demo` and `make test`.
.PHONY: demo test lint build setup bench bench-rpo bench-scale bench-pacing soak package install install-dev emulator acceptance acceptance-emulator book

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

build:
	cargo build --release

# Puts `rds-snapshot-policy` on the PATH (~/.cargo/bin): a release build, about 6 minutes the
# first time on 2 cores; it shares target/ with the other builds.
install:
	cargo install --locked --path app --bin rds-snapshot-policy --target-dir target

# The same, from the debug build the demo and the tests already made: seconds, not minutes.
install-dev:
	cargo install --locked --debug --path app --bin rds-snapshot-policy --target-dir target

# The emulator alone, with two accounts, a few databases and their AWS profiles; Ctrl-C stops it.
emulator:
	bash scripts/emulator.sh

setup:
	bash scripts/setup-tools.sh lint checkov moto

bench:
	cargo bench -p rds-snapshot-policy --bench core

# The RPO on the emulator: DR lag at 10/50/100/200 databases, then a 1,300-snapshot backlog
# cleared with events and sweeps, and with sweeps only.
bench-rpo:
	scripts/setup-tools.sh moto lambda
	cargo build --quiet --bins
	RSP_RDS_REQUESTS_PER_SECOND=100000 AWS_EC2_METADATA_DISABLED=true .tools/moto/bin/python tests/demo/bench_rpo.py --databases 10,50,100,200 --hours 2
	RSP_RDS_REQUESTS_PER_SECOND=100000 AWS_EC2_METADATA_DISABLED=true .tools/moto/bin/python tests/demo/bench_rpo.py --backlog 1300 --hours 24
	RSP_RDS_REQUESTS_PER_SECOND=100000 AWS_EC2_METADATA_DISABLED=true .tools/moto/bin/python tests/demo/bench_rpo.py --backlog 1300 --hours 24 --no-events

# 20 concurrent share runs under a simulated RDS account bucket (300 + 12/s), unbounded and with
# ProviderConcurrency 4 (BENCHMARKS.md, "Pacing"). Real pacing: no RSP_RDS_REQUESTS_PER_SECOND.
bench-pacing:
	scripts/setup-tools.sh moto
	cargo build --quiet --bins
	AWS_EC2_METADATA_DISABLED=true .tools/moto/bin/python tests/demo/bench_pacing.py --runs 20 --snapshots 100 --concurrency 4
	AWS_EC2_METADATA_DISABLED=true .tools/moto/bin/python tests/demo/bench_pacing.py --runs 20 --snapshots 200 --concurrency 4 --bounded-only

# Share (twice: the first share, then an idle run), take, copy and delete of a fleet through the
# fault proxy at 100 ms per call, sequential and at the default parallelism; the large fleets at
# 8 only. PEER=<checkout of awslabs/rds-snapshot-tool> adds the peer tool's side-by-side on the
# small fleets (read from the checkout, never copied here).
bench-scale:
	scripts/setup-tools.sh moto
	cargo build --quiet --bins
	RSP_RDS_REQUESTS_PER_SECOND=100000 AWS_EC2_METADATA_DISABLED=true .tools/moto/bin/python tests/demo/bench_scale.py --sizes 10x100,50x500 --parallelism 1,8 $(if $(PEER),--peer $(PEER))
	RSP_RDS_REQUESTS_PER_SECOND=100000 AWS_EC2_METADATA_DISABLED=true .tools/moto/bin/python tests/demo/bench_scale.py --sizes 200x2000,200x5000 --parallelism 8

# The month on AWS's defaults (soak.rs): 30 simulated days of the default policies of three
# databases against the emulator's AWS quotas, a table per day (target/soak/report.md); about
# 35 minutes on 2 cores. RSP_SOAK_DAYS=N (or RSP_SOAK_HOURS=N) for another length.
soak:
	scripts/setup-tools.sh moto
	RSP_RDS_REQUESTS_PER_SECOND=100000 RSP_SOAK_DAYS=$${RSP_SOAK_DAYS:-30} AWS_EC2_METADATA_DISABLED=true cargo test -p rds-snapshot-policy --test soak -- --include-ignored --nocapture

package:
	bash scripts/package.sh

# The book (docs/): mdBook into target/book (make test builds it too, and checks its links).
book:
	scripts/setup-tools.sh book
	.tools/book/bin/mdbook build docs

# The acceptance run in a sandbox pair of accounts (docs/src/deploying.md, "The acceptance run"): creates a tiny
# encrypted instance and Aurora cluster, installs the tool, checks take, share, copy, drill,
# status, notifications and a backlog sweep, then removes everything. About 2 hours and 1 USD;
# it says so and asks first (ARGS=--yes to skip). The report goes to target/acceptance/.
acceptance:
	@test -n "$(PROD_PROFILE)" -a -n "$(DR_PROFILE)" || { echo "usage: make acceptance PROD_PROFILE=<profile> DR_PROFILE=<profile> [ARGS='--yes --backlog 60 ...']" >&2; exit 2; }
	scripts/setup-tools.sh aws
	cargo build --quiet --bin rds-snapshot-policy
	bash scripts/package.sh
	.tools/aws/bin/python acceptance/acceptance.py --prod-profile "$(PROD_PROFILE)" --dr-profile "$(DR_PROFILE)" --report-dir target/acceptance $(ARGS)

# The same code against the emulator (what make test runs): about 6 minutes with a 700-snapshot backlog.
acceptance-emulator:
	scripts/setup-tools.sh moto lambda
	cargo build --quiet --bins
	RSP_RDS_REQUESTS_PER_SECOND=100000 AWS_EC2_METADATA_DISABLED=true .tools/moto/bin/python acceptance/acceptance.py --emulator --yes --backlog 700 --report-dir target/acceptance
