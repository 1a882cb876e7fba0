"""The evaluator against AWS's documented examples (IAM User Guide: policy evaluation logic,
condition operators, multivalued context keys; KMS guide: key policies; SNS and CloudWatch
guides: topic policies for service principals). Runs without the emulator."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))

from iam_eval import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, conditions_hold, evaluate  # noqa: E402

ROLE = {"arn": "arn:aws:iam::111111111111:role/app", "account": "111111111111"}


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


class ConditionOperators(unittest.TestCase):
    def test_multiple_values_or_keys_and(self):
        # IAM guide: values of one key are ORed, keys and operators ANDed.
        condition = {"StringEquals": {"aws:PrincipalTag/team": ["a", "b"], "aws:RequestedRegion": "eu-west-1"}}
        self.assertTrue(conditions_hold(condition, {"aws:PrincipalTag/team": "b", "aws:RequestedRegion": "eu-west-1"}))
        self.assertFalse(conditions_hold(condition, {"aws:PrincipalTag/team": "b", "aws:RequestedRegion": "us-east-1"}))

    def test_missing_key_is_false_but_true_for_negated_operators_and_if_exists(self):
        self.assertFalse(conditions_hold({"StringEquals": {"aws:SourceAccount": "1"}}, {}))
        self.assertTrue(conditions_hold({"StringNotEquals": {"aws:SourceAccount": "1"}}, {}))
        self.assertTrue(conditions_hold({"StringEqualsIfExists": {"aws:SourceAccount": "1"}}, {}))
        self.assertTrue(conditions_hold({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/x"}}, {}))

    def test_null_tests_presence(self):
        # IAM guide, Null condition operator: "true" means the key is absent.
        self.assertTrue(conditions_hold({"Null": {"aws:RequestTag/team": "false"}}, {"aws:RequestTag/team": "x"}))
        self.assertFalse(conditions_hold({"Null": {"aws:RequestTag/team": "false"}}, {}))

    def test_for_all_values_and_for_any_value(self):
        # IAM guide, multivalued context keys: the tag-key allow-list example.
        allow_list = {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}
        self.assertTrue(conditions_hold(allow_list, {"aws:TagKeys": ["environment"]}))
        self.assertFalse(conditions_hold(allow_list, {"aws:TagKeys": ["environment", "owner"]}))
        self.assertTrue(conditions_hold(allow_list, {}), "ForAllValues with no key is true")
        any_of = {"ForAnyValue:StringEquals": {"aws:CalledVia": "rds.amazonaws.com"}}
        self.assertTrue(conditions_hold(any_of, {"aws:CalledVia": ["rds.amazonaws.com"]}))
        self.assertFalse(conditions_hold(any_of, {}), "ForAnyValue with no key is false")

    def test_like_arn_and_bool(self):
        self.assertTrue(conditions_hold({"StringLike": {"kms:ViaService": "rds.*.amazonaws.com"}},
                                        {"kms:ViaService": "rds.eu-west-1.amazonaws.com"}))
        self.assertTrue(conditions_hold({"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:*:111111111111:alarm:*"}},
                                        {"aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:111111111111:alarm:rpo"}))
        self.assertFalse(conditions_hold({"Bool": {"kms:GrantIsForAWSResource": "true"}},
                                         {"kms:GrantIsForAWSResource": "false"}))

    def test_keys_are_case_insensitive(self):
        self.assertTrue(conditions_hold({"StringEquals": {"aws:sourceaccount": "1"}}, {"aws:SourceAccount": "1"}))


class Evaluation(unittest.TestCase):
    def test_explicit_deny_wins(self):
        identity = [policy({"Effect": "Allow", "Action": "rds:*", "Resource": "*"},
                           {"Effect": "Deny", "Action": "rds:DeleteDBSnapshot", "Resource": "*"})]
        self.assertEqual(evaluate("rds:DeleteDBSnapshot", "arn:aws:rds:eu-west-1:111111111111:snapshot:s",
                                  {}, ROLE, identity), EXPLICIT_DENY)
        self.assertEqual(evaluate("rds:CreateDBSnapshot", "arn:aws:rds:eu-west-1:111111111111:snapshot:s",
                                  {}, ROLE, identity), ALLOW)

    def test_not_action_and_implicit_deny(self):
        identity = [policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})]
        self.assertEqual(evaluate("s3:GetObject", "arn:aws:s3:::b/k", {}, ROLE, identity), ALLOW)
        self.assertEqual(evaluate("iam:CreateUser", "arn:aws:iam::111111111111:user/u", {}, ROLE, identity), IMPLICIT_DENY)

    def test_service_principal_needs_the_resource_policy(self):
        # CloudWatch alarm actions publish as cloudwatch.amazonaws.com: a topic policy that
        # allows only events.amazonaws.com refuses them (AWS Knowledge Center).
        topic = "arn:aws:sns:eu-west-1:111111111111:alerts"
        only_events = policy({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                              "Action": "sns:Publish", "Resource": topic})
        cloudwatch = {"service": "cloudwatch.amazonaws.com"}
        context = {"aws:SourceAccount": "111111111111"}
        self.assertEqual(evaluate("sns:Publish", topic, context, cloudwatch, resource_policy=only_events), IMPLICIT_DENY)
        both = policy(only_events["Statement"][0],
                      {"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish",
                       "Resource": topic, "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"}}})
        self.assertEqual(evaluate("sns:Publish", topic, context, cloudwatch, resource_policy=both), ALLOW)

    def test_cross_account_needs_both_sides(self):
        key = "arn:aws:kms:eu-west-1:111111111111:key/k"
        dr = {"arn": "arn:aws:iam::222222222222:role/provider", "account": "222222222222"}
        key_policy = policy({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
                             "Action": ["kms:Decrypt", "kms:CreateGrant"], "Resource": "*"})
        own_keys_only = [policy({"Effect": "Allow", "Action": "kms:Decrypt",
                                 "Resource": "arn:aws:kms:eu-central-1:222222222222:key/dr"})]
        with_source = [policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key})]
        self.assertEqual(evaluate("kms:Decrypt", key, {}, dr, own_keys_only, key_policy, "111111111111",
                                  key_policy=True), IMPLICIT_DENY)
        self.assertEqual(evaluate("kms:Decrypt", key, {}, dr, with_source, key_policy, "111111111111",
                                  key_policy=True), ALLOW)

    def test_same_account_either_side_allows(self):
        topic = "arn:aws:sns:eu-west-1:111111111111:alerts"
        identity = [policy({"Effect": "Allow", "Action": "sns:Publish", "Resource": topic})]
        only_services = policy({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sns:Publish", "Resource": topic})
        self.assertEqual(evaluate("sns:Publish", topic, {}, ROLE, identity, only_services, "111111111111"), ALLOW)

    def test_key_policy_naming_the_principal_needs_no_iam(self):
        key = "arn:aws:kms:eu-west-1:111111111111:key/k"
        key_policy = policy({"Effect": "Allow", "Principal": {"AWS": ROLE["arn"]}, "Action": "kms:*", "Resource": "*"})
        self.assertEqual(evaluate("kms:Decrypt", key, {}, ROLE, [], key_policy, "111111111111", key_policy=True), ALLOW)
        root_only = policy({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                            "Action": "kms:*", "Resource": "*"})
        self.assertEqual(evaluate("kms:Decrypt", key, {}, ROLE, [], root_only, "111111111111", key_policy=True),
                         IMPLICIT_DENY)


if __name__ == "__main__":
    unittest.main()
