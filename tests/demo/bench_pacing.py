"""Concurrent provider runs under RDS's account bucket (`make bench-pacing`; not a test).

The fault proxy plays RDS's per-account, per-region request bucket in front of the emulator
("a burst of 300 requests and a sustained 12 requests per second"; a refused request gets
RDS's `Throttling` error) with 50 ms per call. RUNS source policies of SNAPSHOTS snapshots each
(one database) are shared at once, each by its own `rds-snapshot-policy run share` (one
provider invocation each), as event-started runs of one account and region meet:

- unbounded: all RUNS at once, each pacing itself at the whole account's rate (what a
  `ProviderConcurrency: 0` install does when that many runs overlap);
- bounded: `ProviderConcurrency` N: at most N run at once (the function's reserved
  concurrency), each paced at 1/N of the rate; a run finding no free invocation retries every
  RETRY seconds as the state machine does on `Lambda.TooManyRequestsException` (read from the
  contract, `LAMBDA_THROTTLED_RETRY`, or `--retry`; first try at a random moment of the first
  20 s, as the events arrive, seeded by `--seed`).

Reported: wall time, RDS calls, throttled calls, failed operations and runs, and the floor the
account's bucket allows for those calls ((calls - 300) / 12 s). For the bounded runs, where the
time over the floor went: wall = calls / 12 + (slot-seconds idle + run seconds beyond their
calls at 12/N) / N, so the excess splits into the unused burst (300 / 12 s), the slots idle
before their first run (ramp), between runs (hand-off) and after their last (tail), and the
runs' own time beyond their share's pace (start-up, waits on answers).

Usage: python bench_pacing.py [--runs 20] [--snapshots 100] [--concurrency 4] [--bounded-only]
                              [--seed 1] [--retry SECONDS]
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_scale import CLI, PROD, REGION, ROOT, assumed, cli_env, client_as, emulator_and_proxy, fleet, post  # noqa: E402

BURST, RATE = 300, 12


def throttled_retry_seconds():
    """The state machines' retry interval on `Lambda.TooManyRequestsException`, from the contract."""
    with open(os.path.join(ROOT, "core/src/contract/mod.rs")) as f:
        found = re.search(r"LAMBDA_THROTTLED_RETRY: \(u64, u64\) = \((\d+), \d+\)", f.read())
    if not found:
        raise SystemExit("bench_pacing: LAMBDA_THROTTLED_RETRY not found in core/src/contract/mod.rs")
    return int(found.group(1))


RETRY = throttled_retry_seconds()


def stats(proxy):
    import urllib.request
    with urllib.request.urlopen(f"{proxy}/_proxy/stats", timeout=10) as r:
        return json.loads(r.read())


def scenario(name, policies, env, concurrency, proxy, arrivals, retry):
    """Runs the share of every policy; `concurrency` None: all at once, unpaced by the bound.
    `arrivals`: each bounded run's first try, in seconds from the start; `retry`: seconds
    between a waiting run's tries."""
    post(f"{proxy}/_proxy/mode", {"mode": "throttle", "burst": BURST, "rate": RATE, "latency_ms": 50})
    before = stats(proxy)
    free = list(range(concurrency or len(policies)))  # the invocation slots not in use
    results, spans, lock = [], [], threading.Lock()
    run_env = dict(env, RSP_PROVIDER_CONCURRENCY=str(concurrency or 1))

    def take_slot():
        with lock:
            return free.pop() if free else None

    def one(policy, arrival):
        if concurrency:
            time.sleep(arrival)
        while (slot := take_slot()) is None:
            time.sleep(retry)
        began = time.time() - start
        try:
            out = subprocess.run([CLI, "run", "share", "--policy", policy, "--json"], env=run_env,
                                 capture_output=True, text=True)
        finally:
            ended = time.time() - start
            with lock:
                free.append(slot)
        try:
            summary = json.loads(out.stdout)
        except ValueError:
            summary = {"failed": ["no summary"], "done": []}
        with lock:
            results.append((out.returncode, len(summary.get("done", [])), len(summary.get("failed", []))))
            spans.append((slot, began, ended, summary.get("awsCalls", 0)))

    start = time.time()
    threads = [threading.Thread(target=one, args=(p, a)) for p, a in zip(policies, arrivals)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - start
    after = stats(proxy)
    calls = after["rds"] - before["rds"]
    throttled = after["throttled"] - before["throttled"]
    floor = max(0, calls - throttled - BURST) / RATE
    return {
        "name": name, "wall": wall, "calls": calls, "throttled": throttled,
        "done": sum(r[1] for r in results), "failed": sum(r[2] for r in results),
        "failed_runs": sum(1 for r in results if r[0] != 0), "floor": floor,
        "excess": excess(spans, wall, concurrency) if concurrency else None,
    }


def excess(spans, wall, slots):
    """Where the bounded runs' time beyond calls / 12 went, in seconds of the whole run: slot
    time unused before the first run of each slot, between runs and after the last, and the
    runs' time beyond their calls at the share's pace (12 / slots a second)."""
    by_slot = {}
    for slot, began, ended, calls in spans:
        by_slot.setdefault(slot, []).append((began, ended, calls))
    ramp = handoff = tail = beyond = 0.0
    for runs in by_slot.values():
        runs.sort()
        ramp += runs[0][0]
        tail += wall - runs[-1][1]
        handoff += sum(b[0] - a[1] for a, b in zip(runs, runs[1:]))
        beyond += sum((ended - began) - calls * slots / RATE for began, ended, calls in runs)
    ramp += wall * (slots - len(by_slot))  # a slot never used
    return {"burst": BURST / RATE, "ramp": ramp / slots, "handoff": handoff / slots, "tail": tail / slots,
            "beyond_pace": beyond / slots}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--snapshots", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--bounded-only", action="store_true", help="skip the unbounded row")
    parser.add_argument("--seed", type=int, default=1,
                        help="seeds the bounded runs' arrival moments, so a row can be run again as it was")
    parser.add_argument("--retry", type=float, default=RETRY,
                        help="seconds between a waiting run's tries (default: the contract's, %(default)s)")
    args = parser.parse_args()
    endpoint, proxy, children = emulator_and_proxy()
    creds = assumed(endpoint, PROD)
    key = client_as(endpoint, creds, "kms", REGION).create_key(Description="bench")["KeyMetadata"]["Arn"]
    rds = client_as(endpoint, creds, "rds", REGION)
    env = dict(cli_env(proxy, creds, REGION), RSP_PARALLELISM="8")
    workdir = tempfile.mkdtemp(prefix="rsp-bench-pacing-")
    rows = []
    rng = random.Random(args.seed)
    try:
        rows_asked = [("unbounded", None), (f"ProviderConcurrency {args.concurrency}", args.concurrency)]
        for name, concurrency in rows_asked[1:] if args.bounded_only else rows_asked:
            policies = []
            for i in range(args.runs):
                prefix = f"p{concurrency or 0}r{i:02d}"
                fleet(rds, key, prefix, 1, args.snapshots)
                path = os.path.join(workdir, f"{prefix}.json")
                with open(path, "w") as f:
                    json.dump({"Role": "Source", "PolicyId": prefix, "InstanceNamePattern": f"^{prefix}-",
                               "DestinationAccounts": ["222222222222"], "BackupInterval": 1, "RetentionDays": 7}, f)
                policies.append(path)
            time.sleep(BURST / RATE)  # the account's bucket full again
            arrivals = [rng.uniform(0, 20) for _ in policies]
            r = scenario(name, policies, env, concurrency, proxy, arrivals, args.retry)
            rows.append(r)
            print(f"bench: {json.dumps(r)}", flush=True)
    finally:
        for child in children:
            child.terminate()
    print()
    print(f"{args.runs} concurrent share runs of {args.snapshots} snapshots each, RDS bucket {BURST} + {RATE}/s, "
          f"50 ms a call; arrivals seeded {args.seed}, a waiting run retries every {args.retry:g} s")
    print()
    print("| runs | wall | RDS calls | throttled | operations done | failed operations | failed runs | floor | over the floor |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['wall']:.0f} s | {r['calls']} | {r['throttled']} | {r['done']} | {r['failed']} | "
              f"{r['failed_runs']} | {r['floor']:.0f} s | {100 * (r['wall'] / r['floor'] - 1) if r['floor'] else 0:.1f} % |")
    for r in rows:
        if r["excess"]:
            e = r["excess"]
            print(f"\n{r['name']}: {r['wall'] - r['floor']:.0f} s over the floor: " +
                  ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in e.items()) +
                  f" (sum {sum(e.values()):.1f} s)")


if __name__ == "__main__":
    main()
