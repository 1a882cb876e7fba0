"""RPO benchmark on the emulator (not a test, not in CI): `make bench-rpo`.

The DR side is real: the destination example stack (expanded by the macro Lambda, deployed in the
emulator's CloudFormation, its copy state machine running the real provider through cargo lambda
watch, event-driven). The source side is played by this script at the default cadence: every 30
simulated minutes a snapshot of each of N databases (available 4 minutes later), shared and
announced on the DR bus as the source policy would. Each database snapshots at its own minute
(SpreadSnapshots, the default: the same hash as the deploy-time check, checked against
tests/demo/spread-vectors.json), or all at minute 0 with --same-minute (the old behaviour). Copies take 9 simulated minutes. Reported per
N: the DR delivery lag (recovery point -> copy available) p50 / p95 / max, the worst age of the
newest DR copy, and the provider's AWS calls per copy run.

--timeline also prints, per 10 simulated minutes, the copy runs started (by events, by the sweep),
the copies started and become available, and their mean copy time (start -> first seen available).

Usage: python bench_rpo.py [--databases 10,50,100,200] [--hours 2] [--no-events] [--same-minute]
                           [--backlog N] [--timeline]
"""

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo  # noqa: E402  (the demo's environment: emulator, accounts, deploy, observer)

sys.path.insert(0, os.path.join(demo.ROOT, "acceptance"))
from spread_minute import check_vectors, identity, snapshot_minute  # noqa: E402

DR, PROD = demo.DR, demo.PROD


def destination_template(event_driven, keep_days=None):
    """The example DR stack, event-driven or not. `keep_days`: RetentionDays instead of the
    default RetentionHours 6, for a backlog: a DR policy copies only shared snapshots younger
    than its retention (a copy the next delete run would remove is not made), so with the
    default the part of a backlog still queued after 6 hours is never copied."""
    with open(os.path.join(demo.ROOT, "templates/examples/destination.yaml")) as f:
        text = f.read()
    anchor, hours = "      KeepDaily: 7\n", "      RetentionHours: 6\n"
    if anchor not in text or hours not in text:
        raise SystemExit("bench_rpo: templates/examples/destination.yaml no longer has the RetentionHours and KeepDaily lines to change")
    if keep_days:
        text = text.replace(hours, f"      RetentionDays: {keep_days}\n")
    return text.replace(anchor, f"{anchor}      EventDriven: {str(event_driven).lower()}\n")


def copy_run_starts(stacks):
    """The start of every copy run (scheduled or event-started), as the emulated clock saw it."""
    starts = []
    for logical_id, name, d in demo.execution_results(stacks):
        if logical_id.endswith("CopyStateMachine"):
            starts.append((d["startDate"].astimezone(dt.timezone.utc), name.startswith("event-")))
    return starts


def print_timeline(observer, runs, bucket=10):
    """Per `bucket` simulated minutes: copy runs started (by events, by the sweep), copies
    started, copies that became available, and the copy time (start -> first seen available)."""
    rows = defaultdict(lambda: [0, 0, 0, 0, []])
    start = demo.START

    def slot(when):
        return int((when - start).total_seconds() // (60 * bucket))

    for when, by_event in runs:
        rows[slot(when)][0 if by_event else 1] += 1
    for copy, began in observer.started.items():
        rows[slot(began)][2] += 1
    for copy, seen in observer.available.items():
        rows[slot(seen)][3] += 1
        if copy in observer.started:
            rows[slot(seen)][4].append((seen - observer.started[copy]).total_seconds() / 60)
    print(f"| minutes | event runs | sweep runs | copies started | copies available | copy time (min, mean) |")
    print("|---|---|---|---|---|---|")
    for k in sorted(rows):
        event_runs, sweeps, began, done, times = rows[k]
        mean = f"{sum(times) / len(times):.1f}" if times else "-"
        print(f"| {k * bucket}-{(k + 1) * bucket} | {event_runs} | {sweeps} | {began} | {done} | {mean} |")


def scenario(n, hours, event_driven, workdir, backlog=0, spread=True, timeline=False):
    """`backlog`: instead of the cadence, that many snapshots (20 per database) shared at once,
    copied by a DR policy keeping 7 days (`RetentionDays: 7`; see `destination_template`); runs
    until all are copied (at most `hours`) and reports the time to clear them."""
    demo.CHILDREN.clear()
    port = demo.free_port()
    endpoint = f"http://127.0.0.1:{port}"
    demo.start([sys.executable, os.path.join(demo.ROOT, "tests/emulator/launcher.py"), str(port), str(os.getpid())],
               open(os.path.join(workdir, f"emulator-{n}.log"), "w"))
    demo.wait_port(port, 60, "the emulator")
    demo.post(f"{endpoint}/moto-api/config", {"stepfunctions": {"execute_state_machine": True},
                                              "lambda": {"use_docker": False}})
    prod, dr = demo.Account(endpoint, PROD, demo.PROD_REGION), demo.Account(endpoint, DR, demo.DR_REGION)
    dr_lambdas = demo.start_lambdas(dr, workdir)
    demo.post(f"{endpoint}/_rsp/config", {"lambda_endpoints": {DR: dr_lambdas}, "clock": demo.START.isoformat(),
                                          "snapshot_limit": 100000})
    path = os.path.join(workdir, "destination.yaml")
    with open(path, "w") as f:
        f.write(destination_template(event_driven, keep_days=7 if backlog else None))
    package = os.path.join(workdir, "bootstrap.zip")
    import zipfile
    with zipfile.ZipFile(package, "w") as z:
        z.writestr("bootstrap", "run locally\n")
    s3 = dr.client("s3")
    bucket = f"rsp-bench-{DR}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": dr.region})
    for key in ("macro.zip", "provider.zip"):
        s3.upload_file(package, bucket, f"rsp/{key}")
    demo.deploy(dr, None, "install", os.path.join(demo.ROOT, "templates/install.yaml"),
                {"ArtifactBucket": bucket, "MacroArtifactKey": "rsp/macro.zip", "ProviderArtifactKey": "rsp/provider.zip"})
    template, resources = demo.deploy(dr, dr_lambdas, "dr-copies", path,
                                      {"ProductionRegion": demo.PROD_REGION, "ProductionAccountId": PROD})
    stacks = [("dr-copies", dr, template, resources)]

    # The source account: N databases, a forwarding rule to the DR bus, sharing by this script.
    rds = prod.client("rds")
    per_db = 20
    if backlog:
        n = -(-backlog // per_db)
    names = [f"b{i:03d}" for i in range(n)]
    minutes = {name: snapshot_minute(identity(PROD, demo.PROD_REGION, "instance", name), 30) if spread else 0
               for name in names}
    for name in names:
        rds.create_db_instance(DBInstanceIdentifier=name, Engine="postgres", DBInstanceClass="db.t4g.micro",
                               MasterUsername="u", MasterUserPassword="password1", AllocatedStorage=20)
    events = prod.client("events")
    events.put_rule(Name="forward", EventPattern=json.dumps({"source": ["rds-snapshot-policy"]}))
    events.put_targets(Rule="forward", Targets=[{
        "Id": "dr", "Arn": f"arn:aws:events:{demo.DR_REGION}:{DR}:event-bus/default",
        "RoleArn": f"arn:aws:iam::{PROD}:role/forward"}])
    if backlog:
        made = 0
        for name in names:
            for k in range(per_db):
                if made < backlog:
                    rds.create_db_snapshot(DBSnapshotIdentifier=f"{name}-backlog-{k:02d}", DBInstanceIdentifier=name)
                    made += 1
    demo.post(f"{endpoint}/_rsp/config", {"pending_seconds": 240, "copy_pending_seconds": 540})
    cleared = None

    observer = demo.Observer(dr, set(names))
    shared, copy_runs, progress = set(), [], [0]
    end = demo.START + dt.timedelta(hours=hours)
    minute = demo.START
    begun = time.time()
    while minute < end:
        demo.post(f"{endpoint}/_rsp/config", {"clock": minute.isoformat()})
        if not backlog:
            for name in [name for name in names if minute.minute % 30 == minutes[name]]:
                rds.create_db_snapshot(DBSnapshotIdentifier=f"{name}-{minute:%Y-%m-%d-%H-%M}", DBInstanceIdentifier=name)
        fresh = []
        # A backlog is shared whole in its first minute: listing it again would only find
        # nothing new (and cost the emulator a page of 100 snapshots per 100).
        pages = [] if backlog and len(shared) >= backlog else \
            rds.get_paginator("describe_db_snapshots").paginate(SnapshotType="manual")
        for page in pages:
            fresh += [s["DBSnapshotIdentifier"] for s in page["DBSnapshots"]
                      if s["Status"] == "available" and s["DBSnapshotIdentifier"] not in shared]
        for snapshot in fresh:
            rds.modify_db_snapshot_attribute(DBSnapshotIdentifier=snapshot, AttributeName="restore",
                                             ValuesToAdd=[DR])
            shared.add(snapshot)
        if fresh and event_driven:
            events.put_events(Entries=[{"Source": "rds-snapshot-policy", "DetailType": "RDS Snapshot Policy Snapshots Shared",
                                        "Detail": json.dumps({"policy": "bench", "shared": len(fresh)})}])
        demo.simulate(endpoint, stacks, minute, minute + dt.timedelta(minutes=1), observer)
        minute += dt.timedelta(minutes=1)
        if backlog and (minute - demo.START) % dt.timedelta(hours=1) == dt.timedelta(0):
            # A line each simulated hour, so that a long backlog run stopped early still says
            # how far it got and at what rate.
            hour = (minute - demo.START) // dt.timedelta(hours=1)
            done = len(observer.seen)
            print(f"bench_rpo: simulated hour {hour}: {done} of {backlog} copies available "
                  f"(+{done - progress[-1]} this hour), {time.time() - begun:.0f} s of wall time", flush=True)
            progress.append(done)
        if backlog and len(observer.seen) >= backlog:
            cleared = minute - demo.START
            break
    wall = time.time() - begun
    # Every execution of the copy state machine is a run, whatever its end; the call counts
    # come from the summaries of those that succeeded.
    statuses = defaultdict(int)
    for logical_id, name, d in demo.execution_results(stacks):
        if not logical_id.endswith("CopyStateMachine"):
            continue
        statuses[d["status"]] += 1
        if d["status"] == "SUCCEEDED":
            summary = json.loads(d.get("output") or "{}")
            copy_runs.append((summary.get("awsCalls", 0), len(summary.get("done", []))))
    if timeline:
        print_timeline(observer, copy_run_starts(stacks))
    lags = [lag for db in names for lag in observer.lags[db]]
    worst = max(observer.worst.values(), default=None)
    idle = [calls for calls, done in copy_runs if done == 0]
    busy = [(calls, done) for calls, done in copy_runs if done]
    demo.stop_children()
    return {
        "databases": n, "events": event_driven, "spread": spread, "copies": len(lags),
        "p50": demo.percentile(lags, 50), "p95": demo.percentile(lags, 95), "max": max(lags, default=0),
        "worst_age": worst, "runs": sum(statuses.values()),
        "not_succeeded": sum(v for k, v in statuses.items() if k != "SUCCEEDED"),
        "idle_calls": max(idle, default=0),
        "calls_per_copy": max(((c - max(idle, default=0)) / d for c, d in busy), default=0),
        "wall_seconds": wall, "cleared": cleared,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="10,50,200")
    parser.add_argument("--hours", type=float, default=2)
    parser.add_argument("--no-events", action="store_true", help="EventDriven: false (sweeps only)")
    parser.add_argument("--backlog", type=int, default=0,
                        help="instead: this many shared snapshots at once; the time to copy them all")
    parser.add_argument("--timeline", action="store_true",
                        help="also print, per 10 simulated minutes, the copy runs, copies started and copies available")
    parser.add_argument("--same-minute", action="store_true",
                        help="every database snapshots at minute 0 (SpreadSnapshots: false)")
    args = parser.parse_args()
    check_vectors()
    workdir = tempfile.mkdtemp(prefix="rsp-bench-")
    if args.backlog:
        r = scenario(0, args.hours, not args.no_events, workdir, backlog=args.backlog, timeline=args.timeline)
        cleared = "not cleared" if r["cleared"] is None else f"{r['cleared'].total_seconds() / 3600:.1f} h"
        print("| backlog | chain | cleared in (simulated) | copy runs | runs not succeeded | wall |")
        print("|---|---|---|---|---|---|")
        print(f"| {args.backlog} | {'events + sweeps' if r['events'] else 'sweeps only'} | {cleared} | "
              f"{r['runs']} | {r['not_succeeded']} | {r['wall_seconds']:.0f} s |")
        return
    print("| databases | snapshot minutes | chain | copies | DR lag p50 | p95 | max | worst DR age | copy runs | runs not succeeded | calls of an idle run | extra calls per copy | wall |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in [int(x) for x in args.databases.split(",")]:
        r = scenario(n, args.hours, not args.no_events, workdir, spread=not args.same_minute,
                     timeline=args.timeline)
        worst = "-" if r["worst_age"] is None else f"{r['worst_age']:.0f} min"
        print(f"| {n} | {'spread' if r['spread'] else 'all at :00'} | {'events + sweeps' if r['events'] else 'sweeps only'} | {r['copies']} | {r['p50']:.0f} min | "
              f"{r['p95']:.0f} min | {r['max']:.0f} min | {worst} | {r['runs']} | {r['not_succeeded']} | {r['idle_calls']} | "
              f"{r['calls_per_copy']:.1f} | {r['wall_seconds']:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
