"""Bucket policies as AWS applies them.

- AWS::S3::BucketPolicy from CloudFormation, which moto's CloudFormation skips: the policy is
  put on its bucket (CloudFormation guide, AWS::S3::BucketPolicy: "Applies an Amazon S3 bucket
  policy to an Amazon S3 bucket"), so the code bucket's template is what authorization.py
  decides S3 requests by. The document is stored as JSON text, as PutBucketPolicy stores it.
- moto's own object check ignores conditions ("Conditions are not taken into account", its
  put_bucket_policy), so a deny guarded by a condition, such as the usual TLS-only statement
  (`aws:SecureTransport` false), denies every request. Here its statements for everyone are
  decided with their conditions by the policy evaluator (iam_eval.py), with the request over TLS
  as the SDKs make it; who else may act is authorization.py's decision.
"""

import json

from moto.core.common_models import CloudFormationModel
from moto.s3 import models as s3

import iam_eval
import state


class BucketPolicy(CloudFormationModel):
    """The PolicyDocument of an AWS::S3::BucketPolicy, put on its bucket."""

    __module__ = "moto.s3.models"  # moto's model registry keys on the service module

    def __init__(self, bucket_name):
        self.bucket_name = bucket_name

    @staticmethod
    def cloudformation_type():
        return "AWS::S3::BucketPolicy"

    @staticmethod
    def cloudformation_name_type():
        return ""

    @property
    def physical_resource_id(self):
        return self.bucket_name

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        bucket = properties["Bucket"]
        backend = s3.s3_backends[account_id][s3.get_partition(region_name)]
        backend.put_bucket_policy(bucket, json.dumps(properties["PolicyDocument"]).encode())
        return cls(bucket)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id,
                                                   region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name):
        bucket = cloudformation_json["Properties"]["Bucket"]
        backend = s3.s3_backends[account_id][s3.get_partition(region_name)]
        backend.delete_bucket_policy(bucket)


def _get_permission(self, action, resource):
    from moto.iam.access_control import PermissionResult
    if self.policy is None:
        return PermissionResult.NEUTRAL
    document = json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)
    everyone = {"Statement": [st for st in iam_eval._list(document.get("Statement"))
                              if isinstance(st, dict) and st.get("Principal") in ("*", {"AWS": "*"})]}
    decision = iam_eval.decide([everyone], action, resource, {"aws:SecureTransport": "true"},
                               caller={"arn": "anonymous", "account": "anonymous"})
    return {iam_eval.EXPLICIT_DENY: PermissionResult.DENIED,
            iam_eval.ALLOW: PermissionResult.PERMITTED}.get(decision, PermissionResult.NEUTRAL)


s3.FakeBucket.get_permission = _get_permission


state.refresh_cfn_types()
