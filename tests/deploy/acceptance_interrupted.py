"""The acceptance run's teardown when it is interrupted: Ctrl-C (SIGINT) arrives right after the
third check (the databases, the installed tool and the policies and their first snapshots
exist); the run must stop, tear everything down, report the three checks, and leave nothing
(its report's `teardown.left`, a scan of both emulated accounts after the teardown).

Usage: python tests/deploy/acceptance_interrupted.py [--workdir DIR]   (exit 0 when all hold)
"""

import argparse
import glob
import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", default=os.path.join(ROOT, "target", "acceptance-interrupted"))
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    for old in glob.glob(os.path.join(args.workdir, "acceptance-*.json")):
        os.remove(old)
    done = subprocess.run([sys.executable, os.path.join(ROOT, "acceptance", "acceptance.py"), "--emulator", "--yes",
                           "--backlog", "5", "--interrupt-after", "3", "--workdir", args.workdir,
                           "--report-dir", args.workdir], timeout=800)
    reports = glob.glob(os.path.join(args.workdir, "acceptance-*.json"))
    if done.returncode != 1 or len(reports) != 1:
        print(f"interrupted: expected exit 1 and one report, got exit {done.returncode} and {reports}")
        return 1
    with open(reports[0]) as f:
        report = json.load(f)
    checks = [c["check"].split(":")[0] for c in report["checks"]]
    left, removed = report["teardown"]["left"], report["teardown"]["removed"]
    print(f"interrupted: checks {checks}, verdict {report['verdict']}, removed {len(removed)}, left {left}")
    kinds = {"DB instance", "DB cluster", "KMS key", "stack", "s3:"}
    missing = [k for k in kinds if not any(k in r for r in removed)]
    if checks != ["setup", "deploy", "take"] or report["verdict"] != "failed" or left or missing:
        print(f"interrupted: FAILED (teardown did not remove {missing})" if missing else "interrupted: FAILED")
        return 1
    print("interrupted: PASSED: the interrupted run tore down what it had made and nothing is left")
    return 0


if __name__ == "__main__":
    sys.exit(main())
