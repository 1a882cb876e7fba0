"""The acceptance run's preflight for `--provider-concurrency`: against the emulator's Lambda
account settings (tests/emulator/lambda_account.py), it refuses an account that cannot reserve
the concurrency (the install stack would fail on it), naming the account, the numbers and the
fix, and accepts one that can.

Run by `make test` (scripts/test.sh) with the emulator launcher tests.
"""

import os
import sys
import unittest

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "acceptance"))
sys.path.insert(0, os.path.join(ROOT, "tests", "emulator"))

import acceptance  # noqa: E402
from parts import Side  # noqa: E402
from test_launcher import A, REGION, ROLE, EmulatorCase  # noqa: E402


class ProviderConcurrencyPreflight(EmulatorCase):
    def side(self):
        sts = boto3.client("sts", endpoint_url=self.endpoint, region_name="us-east-1",
                           aws_access_key_id="t", aws_secret_access_key="t")
        creds = sts.assume_role(RoleArn=ROLE.format(A), RoleSessionName="operator")["Credentials"]
        session = boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                aws_session_token=creds["SessionToken"])
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint
        return Side("prod", session, REGION)

    def tearDown(self):
        os.environ.pop("AWS_ENDPOINT_URL", None)
        self.post("/_rsp/config", {"lambda_concurrency_quota": 1000})

    def test_an_account_that_can_reserve_passes(self):
        self.post("/_rsp/config", {"lambda_concurrency_quota": 1000})
        self.assertEqual(acceptance.concurrency_problems(self.side(), 4), [])

    def test_a_new_accounts_quota_is_refused_with_the_numbers_and_the_fix(self):
        self.post("/_rsp/config", {"lambda_concurrency_quota": 10})
        problems = acceptance.concurrency_problems(self.side(), 4)
        self.assertEqual(len(problems), 1, problems)
        for part in (f"prod {A}", f"unreserved concurrency in {REGION} is 10", "quota 10",
                     "--provider-concurrency 4 needs at least 104", "Concurrent executions"):
            self.assertIn(part, problems[0])

    def test_the_100_lambda_keeps_is_counted(self):
        # 103 unreserved: reserving 4 would leave 99.
        self.post("/_rsp/config", {"lambda_concurrency_quota": 103})
        self.assertEqual(len(acceptance.concurrency_problems(self.side(), 4)), 1)
        self.assertEqual(acceptance.concurrency_problems(self.side(), 3), [])

    def test_the_flag_takes_what_the_install_stack_takes(self):
        self.assertEqual(acceptance.parse_args(["--emulator", "--provider-concurrency", "4"]).provider_concurrency, 4)
        self.assertEqual(acceptance.parse_args(["--emulator"]).provider_concurrency, 0)
        for bad in ("51", "-1", "four"):
            with self.assertRaises(SystemExit), open(os.devnull, "w") as devnull:
                stderr, sys.stderr = sys.stderr, devnull
                try:
                    acceptance.parse_args(["--emulator", "--provider-concurrency", bad])
                finally:
                    sys.stderr = stderr


if __name__ == "__main__":
    unittest.main()
