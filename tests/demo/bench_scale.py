"""The provider at fleet scale with AWS-like latency (`make bench-scale`).

Starts the emulator and the fault proxy in front of it with a fixed delay per call (an
approximation of AWS: RDS control-plane calls take tens to hundreds of milliseconds), creates
DATABASES instances with SNAPSHOTS manual snapshots in all (tagged as the policy's, not yet
shared), then times each action through the proxy with `rds-snapshot-policy run`, the way a
fleet meets it: the first share (two calls per snapshot), a take a day later (one snapshot per
database), the DR account's first copy run (lists every shared snapshot, starts AWS's 20
copies in flight) and a delete a month later (every snapshot but the newest per database).
Each RSP_PARALLELISM value (1 sequential, 4, the default 8) gets its own identical fleet.
Prints a markdown table: wall time, AWS calls, operations done, the CLI's own peak RSS (its
VmHWM sampled every 5 ms: a lower bound by at most the last 5 ms of the run).

With --peer CHECKOUT (a checkout of awslabs/rds-snapshot-tool, read from where it is, never
copied here) the peer's source functions (share, share again, take, delete; it is sequential) run
on another identical fleet through the same proxy, and a side-by-side table follows.

Usage: python bench_scale.py [--sizes 10x100,50x500] [--latency-ms 100] [--parallelism 1,4,8] [--peer CHECKOUT]
"""

import argparse
import datetime
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import boto3

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROD, DR, REGION, DR_REGION = "111111111111", "222222222222", "eu-west-1", "eu-central-1"
CLI = os.path.join(ROOT, "target/debug/rds-snapshot-policy")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port):
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit(f"bench: nothing listens on {port}")


def post(url, body):
    import urllib.request
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def emulator_and_proxy():
    """Starts the emulator (no snapshot quota to speak of) and the fault proxy in front of it;
    (endpoint, proxy URL, child processes)."""
    port, proxy_port = free_port(), free_port()
    children = [subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/emulator/launcher.py"), str(port),
                                  str(os.getpid())], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    wait_port(port)
    endpoint = f"http://127.0.0.1:{port}"
    post(f"{endpoint}/_rsp/config", {"snapshot_limit": 1_000_000})
    children.append(subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/emulator/fault_proxy.py"),
                                      str(proxy_port), endpoint, str(os.getpid())],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_port(proxy_port)
    return endpoint, f"http://127.0.0.1:{proxy_port}", children


def assumed(endpoint, account):
    """Credentials of the emulator's `bench` role in `account`."""
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="b",
                       aws_secret_access_key="b")
    return sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/bench", RoleSessionName="bench")["Credentials"]


def client_as(endpoint, creds, service, region):
    return boto3.client(service, endpoint_url=endpoint, region_name=region, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])


def cli_env(proxy, creds, region):
    """The CLI's environment: the account's credentials, every call through the proxy."""
    return {"PATH": os.environ.get("PATH", ""), "AWS_ENDPOINT_URL": proxy, "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_REGION": region, "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"], "AWS_SESSION_TOKEN": creds["SessionToken"]}


def fleet(rds, key, prefix, databases, snapshots):
    per_db = max(1, snapshots // databases)
    # CreatedBy and shareAndCopy are the peer tool's marks (--peer); this tool reads only its own.
    tags = lambda db: [{"Key": "CreatedBy", "Value": "Snapshot Tool for RDS"}, {"Key": "shareAndCopy", "Value": "YES"},
                       {"Key": "rds-snapshot-policy:policy", "Value": prefix},
                       {"Key": "rds-snapshot-policy:database", "Value": db}]
    for d in range(databases):
        db = f"{prefix}-db{d:03d}"
        rds.create_db_instance(DBInstanceIdentifier=db, Engine="postgres", DBInstanceClass="db.t4g.micro",
                               AllocatedStorage=20, MasterUsername="bench_admin",
                               MasterUserPassword="not-a-real-password", StorageEncrypted=True, KmsKeyId=key)
        for i in range(per_db):
            rds.create_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier=f"{db}-2026-01-01-{i // 60:02d}-{i % 60:02d}",
                                   Tags=tags(db))
    return databases * per_db


def run_action(env, action, policy_file, parallelism, now=None):
    """(wall seconds, AWS calls, operations done, peak RSS MB) of one `run ACTION`."""
    env = dict(env, RSP_PARALLELISM=str(parallelism))
    args = [CLI, "run", action, "--policy", policy_file, "--json"]
    if now:
        args += ["--now", now]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.time()
        child = subprocess.Popen(args, env=env, stdout=out, stderr=err)
        peak_kb = 0
        while child.poll() is None:
            peak_kb = max(peak_kb, high_water_kb(child.pid))
            time.sleep(0.005)
        wall = time.time() - start
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            sys.exit(f"bench: run {action} failed: {err.read()[-2000:].decode(errors='replace')}")
        summary = json.loads(out.read())
    return wall, summary["awsCalls"], len(summary["done"]), peak_kb / 1024


def high_water_kb(pid):
    """The process's own peak resident set (VmHWM, kB), 0 once it has exited. Not wait4's
    ru_maxrss: Linux carries the forking parent's peak across exec, so that would report this
    Python driver's peak whenever it is larger than the CLI's."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


# The peer's source functions in the order a fleet meets them; the peer has no "done" count.
PEER_RUNS = [("share", "share_snapshots_rds"), ("share again", "share_snapshots_rds"),
             ("take", "take_snapshots_rds"), ("delete", "delete_old_snapshots_rds")]


def run_peer(checkout, function, env):
    """(wall seconds, AWS calls, the error it raised or None) of one peer function run."""
    start = time.time()
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tests/demo/peer_run.py"), checkout, function],
                          env=env, capture_output=True, text=True)
    wall = time.time() - start
    if done.returncode != 0:
        sys.exit(f"bench: the peer's {function} failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return wall, result["calls"], result["error"]


def later(days):
    stamp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10x100,50x500")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--parallelism", default="1,4,8", help="the RSP_PARALLELISM values to time")
    parser.add_argument("--actions", default="all", help="share,take,copy,delete or all")
    parser.add_argument("--peer", metavar="CHECKOUT",
                        help="also time the peer tool (a checkout of awslabs/rds-snapshot-tool) on an identical fleet")
    args = parser.parse_args()
    endpoint, proxy, children = emulator_and_proxy()
    post(f"{proxy}/_proxy/mode", {"mode": "latency", "latency_ms": args.latency_ms})
    creds, dr_creds = assumed(endpoint, PROD), assumed(endpoint, DR)
    key = client_as(endpoint, creds, "kms", REGION).create_key(Description="bench")["KeyMetadata"]["Arn"]
    rds = client_as(endpoint, creds, "rds", REGION)
    dr_key = client_as(endpoint, dr_creds, "kms", DR_REGION).create_key(Description="bench-dr")["KeyMetadata"]["Arn"]
    env, dr_env = cli_env(proxy, creds, REGION), cli_env(proxy, dr_creds, DR_REGION)
    rows, peer_rows = [], {}
    workdir = tempfile.mkdtemp(prefix="rsp-bench-scale-")
    try:
        for size in args.sizes.split(","):
            databases, snapshots = (int(x) for x in size.split("x"))
            for parallelism in (int(p) for p in args.parallelism.split(",")):
                prefix = f"b{databases}x{snapshots}p{parallelism}"
                count = fleet(rds, key, prefix, databases, snapshots)
                source = os.path.join(workdir, f"{prefix}.json")
                with open(source, "w") as f:
                    json.dump({"Role": "Source", "PolicyId": prefix, "InstanceNamePattern": f"^{prefix}-",
                               "DestinationAccounts": [DR], "BackupInterval": 1, "RetentionDays": 7}, f)
                target = os.path.join(workdir, f"{prefix}-dr.json")
                with open(target, "w") as f:
                    json.dump({"Role": "Destination", "PolicyId": f"{prefix}-dr", "SnapshotPattern": f"^{prefix}-",
                               "SourceAccounts": [PROD], "SourceRegionOverride": REGION, "DestinationRegion": DR_REGION,
                               "KmsKeyDestination": dr_key}, f)
                runs = [("share", env, source, None), ("share again", env, source, None),
                        ("take", env, source, later(1)), ("copy", dr_env, target, None),
                        ("delete", env, source, later(30))]
                if args.actions != "all":
                    runs = [r for r in runs if r[0].split()[0] in args.actions.split(",")]
                for name, action_env, policy, now in runs:
                    wall, calls, done, peak = run_action(action_env, name.split()[0], policy, parallelism, now)
                    rows.append((databases, count, name, parallelism, wall, calls, done, peak))
                    print(f"bench: {databases} databases, {count} snapshots, {name}, parallelism {parallelism}: "
                          f"{wall:.1f} s, {calls} calls, {done} done, peak RSS {peak:.0f} MB", flush=True)
            if args.peer:
                prefix = f"b{databases}x{snapshots}peer"
                count = fleet(rds, key, prefix, databases, snapshots)
                peer_env = dict(env, AWS_DEFAULT_REGION=REGION, PATTERN=f"^{prefix}-", DEST_ACCOUNT=DR,
                                INTERVAL="1", RETENTION_DAYS="7", LOG_LEVEL="ERROR")
                for name, function in PEER_RUNS:
                    wall, calls, error = run_peer(args.peer, function, peer_env)
                    peer_rows[(databases, count, name)] = (wall, calls, error)
                    print(f"bench: peer, {databases} databases, {count} snapshots, {name}: {wall:.1f} s, {calls} calls"
                          + (f", {error}" if error else ""), flush=True)
    finally:
        for child in children:
            child.terminate()
    print()
    print("| databases | snapshots | action | parallelism | wall | AWS calls | done | peak RSS (CLI) |")
    print("|---|---|---|---|---|---|---|---|")
    for databases, count, action, parallelism, wall, calls, done, peak in rows:
        print(f"| {databases} | {count} | {action} | {parallelism} | {wall:.1f} s | {calls} | {done} | {peak:.0f} MB |")
    if peer_rows:
        print()
        print("| databases | snapshots | action | this tool: calls | wall (1) | wall (8) | peer tool: calls | wall | peer's error |")
        print("|---|---|---|---|---|---|---|---|---|")
        ours = {(d, c, a, p): (w, n) for d, c, a, p, w, n, _, _ in rows}
        for (databases, count, name), (wall, calls, error) in peer_rows.items():
            one = ours.get((databases, count, name, 1))
            eight = ours.get((databases, count, name, 8))
            print(f"| {databases} | {count} | {name} | {one[1] if one else (eight[1] if eight else '-')} | "
                  f"{f'{one[0]:.1f} s' if one else '-'} | {f'{eight[0]:.1f} s' if eight else '-'} | "
                  f"{calls} | {wall:.1f} s | {error or '-'} |")


if __name__ == "__main__":
    main()
