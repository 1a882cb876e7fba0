"""The acceptance run's `--emulator` mode: a sandbox pair of accounts on the local emulator.

What a real sandbox pair already has, this provides: the emulator (the project's launcher,
127.0.0.1 only), two accounts with IDs unlike any example default, a CloudTrail trail logging in
each, the Lambda service (each account's two Lambdas run by `cargo lambda watch` as the
provider's role, with the install stack's allow-lists), an AWS config file with one profile per
account, stand-in packages (the emulator runs the local binaries, not the zips), and a clock:
waiting advances the emulated clock a minute at a time, announces the RDS events due, lets the
executions run and evaluates the alarms. Everything else is the acceptance run's own code.
"""

import datetime as dt
import os
import sys
import time
import zipfile

import boto3

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "demo"))
sys.path.insert(0, os.path.join(ROOT, "tests", "deploy"))
from demo import free_port, post, start, stop_children, wait_port  # noqa: E402
from sceptre_launch import Emulator, start_lambdas  # noqa: E402

PROD, DR = "313131313131", "424242424242"
PROD_REGION, DR_REGION = "eu-west-1", "eu-central-1"


class EmulatedClock:
    """The emulator's clock, advanced a minute per wait: the RDS events due are announced, the
    executions run to their next wait (all but `running`), the alarms are evaluated."""

    emulated = True
    real_floor_seconds = 300

    def __init__(self, endpoint):
        self.endpoint = endpoint

    def now(self):
        return dt.datetime.fromisoformat(post(f"{self.endpoint}/_rsp/config", {})["clock"].replace("Z", "+00:00"))

    def advance(self, running=()):
        post(f"{self.endpoint}/_rsp/config", {"clock": (self.now() + dt.timedelta(minutes=1)).isoformat()})
        for _ in range(2):
            post(f"{self.endpoint}/_rsp/tick", {})
            post(f"{self.endpoint}/_rsp/wait", {"except": list(running)})
        post(f"{self.endpoint}/_rsp/alarms", {})
        time.sleep(0.2)


class Sandbox:
    pass


def start_sandbox(args):
    import atexit  # noqa: PLC0415

    os.makedirs(args.workdir, exist_ok=True)
    atexit.register(stop_children)
    port = free_port()
    emulator = Emulator(f"http://127.0.0.1:{port}")
    start([sys.executable, os.path.join(ROOT, "tests/emulator/launcher.py"), str(port), str(os.getpid())],
          open(os.path.join(args.workdir, "emulator.log"), "w"))
    wait_port(port, 60, "the emulator")
    post(f"{emulator.endpoint}/moto-api/config", {"stepfunctions": {"execute_state_machine": True},
                                                  "lambda": {"use_docker": False}})
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    # Snapshots take 4 emulated minutes, copies 9, restores 25 (as in the demo).
    post(f"{emulator.endpoint}/_rsp/config", {"clock": now.isoformat(), "pending_seconds": 240,
                                              "copy_pending_seconds": 540, "restore_pending_seconds": 1500})
    if args.backlog > 90:
        # A sandbox whose manual snapshot quota was raised (Service Quotas) for a larger backlog.
        post(f"{emulator.endpoint}/_rsp/config", {"snapshot_limit": args.backlog + 100})
    print(f"acceptance: emulator on {emulator.endpoint}; accounts {PROD} (production), {DR} (DR)", flush=True)

    # The sandbox's prerequisites: a trail logging management events in each account.
    for account, region in ((PROD, PROD_REGION), (DR, DR_REGION)):
        s3 = emulator.client("s3", account, region)
        bucket = f"sandbox-trail-{account}"
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        trail = emulator.client("cloudtrail", account, region)
        trail.create_trail(Name="management-events", S3BucketName=bucket, IsMultiRegionTrail=True)
        trail.start_logging(Name="management-events")

    lambdas = {
        PROD: start_lambdas(emulator, PROD, PROD_REGION, {"RSP_ALLOWED_DESTINATION_ACCOUNTS": DR}, args.workdir),
        DR: start_lambdas(emulator, DR, DR_REGION, {"RSP_ALLOWED_SOURCE_ACCOUNTS": PROD}, args.workdir),
    }
    post(f"{emulator.endpoint}/_rsp/config", {"lambda_endpoints": lambdas})

    # One profile per account, as an operator's ~/.aws/config would hold them.
    config = os.path.join(args.workdir, "aws-config")
    with open(config, "w") as f:
        for name, account, region in (("acceptance-prod", PROD, PROD_REGION), ("acceptance-dr", DR, DR_REGION)):
            c = emulator.credentials(account, "sandbox-administrator")
            f.write(f"[profile {name}]\nregion = {region}\nendpoint_url = {emulator.endpoint}\n"
                    f"aws_access_key_id = {c['AccessKeyId']}\naws_secret_access_key = {c['SecretAccessKey']}\n"
                    f"aws_session_token = {c['SessionToken']}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": config, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true"})
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    boto3.setup_default_session()

    dist = os.path.join(args.workdir, "dist")
    os.makedirs(dist, exist_ok=True)
    packages = {}
    for kind in ("macro", "provider"):
        path = os.path.join(dist, f"rds-snapshot-policy-{kind}-emulator-x86_64.zip")
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("bootstrap", "the emulator runs the local binary through cargo lambda watch\n")
        packages[kind] = path

    sandbox = Sandbox()
    sandbox.clock, sandbox.packages, sandbox.env = EmulatedClock(emulator.endpoint), packages, env
    sandbox.prod_profile, sandbox.dr_profile = "acceptance-prod", "acceptance-dr"
    return sandbox
