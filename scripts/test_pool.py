#!/usr/bin/env python3
"""Runs every test binary of the workspace, and the end-to-end commands given with --command,
as one pool of jobs, a few at a time, longest first.

cargo runs test binaries one after the other, and most of them wait on an emulator, a linter or
a Lambda runtime rather than on the CPU; the sceptre launch and the demo each run their own
emulator. As one pool on the 2 cores the machine's CPU stays busy until the last job ends.

Each job's output goes to <logs>/<job>.log; a line is printed when a job ends, then each log
whole, then a table of durations. A job running longer than --timeout seconds is killed (its
whole process group) and fails. Durations are kept in <logs>/../test-durations.json so the next
run starts the longest jobs first. Exit status 1 when any job failed.

Usage: test_pool.py --artifacts FILE [--jobs N] [--logs DIR] [--timeout S]
                    [--command NAME 'SHELL COMMAND']... [-- FILTER...]
FILE holds cargo's `--message-format=json` lines of `cargo test --no-run`; FILTERs are passed to
every test binary (and then the --command jobs are left out).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

# The order of a checkout that has no durations file yet (measured; slowest first).
FIRST_RUN_ORDER = ["demo", "soak", "emulator_seed", "acceptance", "golden", "sceptre-launch",
                   "emulator_actions", "hostile_corpus", "templates", "acceptance-interrupted", "emulator_faults", "reencrypt_properties",
                   "custom_resource", "emulator_loop", "planner_properties", "cli_actions",
                   "emulator_drill", "roundtrip", "provider-lib"]


# RSP_NO_BROWSER=1 (the pipeline's build image has no Chromium package): the two tests that
# render the HTML status report in headless Chromium are skipped; CI runs them.
NO_BROWSER = ["--skip", "the_html_report_"] if os.environ.get("RSP_NO_BROWSER") == "1" else []


def test_jobs(artifacts_file, filters):
    """(name, argv, cwd) for each test executable cargo built (benches are left out)."""
    jobs = []
    with open(artifacts_file) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            message = json.loads(line)
            if message.get("reason") != "compiler-artifact" or not message.get("executable"):
                continue
            if not message.get("profile", {}).get("test"):
                continue
            target = message["target"]
            kind = target["kind"][0]
            if kind not in ("lib", "bin", "test"):
                continue
            package = os.path.dirname(message["manifest_path"])
            crate = os.path.basename(package)
            name = target["name"] if kind == "test" else f"{crate}-{kind}-{target['name']}"
            if kind == "lib":
                name = f"{crate}-lib"
            jobs.append((name, [message["executable"], "--include-ignored", *filters, *NO_BROWSER], package))
    return jobs


def ordered(jobs, durations):
    def weight(job):
        name = job[0]
        if name in durations:
            return -durations[name]
        if name in FIRST_RUN_ORDER:
            return -1000 + FIRST_RUN_ORDER.index(name)
        return 0
    return sorted(jobs, key=weight)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--logs", default="target/test-logs")
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--command", nargs=2, action="append", default=[], metavar=("NAME", "COMMAND"))
    parser.add_argument("filters", nargs="*")
    args = parser.parse_args()

    os.makedirs(args.logs, exist_ok=True)
    durations_file = os.path.join(os.path.dirname(os.path.abspath(args.logs)), "test-durations.json")
    try:
        with open(durations_file) as f:
            durations = json.load(f)
    except (OSError, ValueError):
        durations = {}
    jobs = test_jobs(args.artifacts, args.filters)
    if not jobs:
        sys.exit(f"test pool: no test executable in {args.artifacts}")
    if not args.filters:
        jobs += [(name, ["bash", "-c", command], os.getcwd()) for name, command in args.command]
    queue = ordered(jobs, durations)
    running = {}  # pid -> (name, process, started, log)
    results = []  # (name, ok, seconds, note)
    began = time.time()
    last_note = began

    def start(job):
        name, argv, cwd = job
        log = open(os.path.join(args.logs, f"{name}.log"), "w")
        process = subprocess.Popen(argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        running[process.pid] = (name, process, time.time(), log)

    def finish(pid, ok, note=""):
        name, process, started, log = running.pop(pid)
        log.close()
        seconds = time.time() - started
        results.append((name, ok, seconds, note))
        durations[name] = round(seconds, 1)
        print(f"test pool: {'ok    ' if ok else 'FAILED'} {name} in {seconds:.0f} s{note}", flush=True)

    try:
        while queue or running:
            while queue and len(running) < args.jobs:
                start(queue.pop(0))
            time.sleep(0.5)
            for pid, (name, process, started, _) in list(running.items()):
                code = process.poll()
                if code is not None:
                    finish(pid, code == 0, "" if code == 0 else f" (exit {code})")
                elif time.time() - started > args.timeout:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    finish(pid, False, f" (killed after the {args.timeout} s timeout)")
            if time.time() - last_note >= 30:
                last_note = time.time()
                names = ", ".join(name for name, *_ in running.values())
                print(f"test pool: {len(results)} of {len(jobs)} done after {time.time() - began:.0f} s; "
                      f"running {names}", file=sys.stderr, flush=True)
    finally:
        for pid, (_, process, _, _) in list(running.items()):
            os.killpg(process.pid, signal.SIGKILL)
    with open(durations_file, "w") as f:
        json.dump(durations, f, indent=1, sort_keys=True)
    for name, ok, seconds, note in results:
        print(f"===== {name}: {'ok' if ok else 'FAILED'} in {seconds:.0f} s{note} ({args.logs}/{name}.log)")
        with open(os.path.join(args.logs, f"{name}.log"), errors="replace") as f:
            sys.stdout.write(f.read())
    print("===== test pool durations (longest first)")
    for name, ok, seconds, note in sorted(results, key=lambda r: -r[2]):
        print(f"{seconds:7.0f} s  {'ok    ' if ok else 'FAILED'}  {name}{note}")
    failed = [name for name, ok, *_ in results if not ok]
    print(f"test pool: {len(results) - len(failed)} of {len(results)} jobs passed in {time.time() - began:.0f} s")
    if failed:
        print(f"test pool: failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
