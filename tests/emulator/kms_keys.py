"""AWS-managed KMS keys: keys behind `alias/aws/...` report KeyManager AWS, as AWS-managed keys
do (moto reports them as CUSTOMER keys); a key created with the tag `rsp:key-id` gets that ID
(for the shipped example policies).
"""

import json
import re
import threading

# --- AWS-managed keys ----------------------------------------------------------------------
# moto creates `alias/aws/<service>` keys on first use but reports them as CUSTOMER keys; AWS
# reports KeyManager AWS, which is what makes their snapshots unshareable.
from moto.kms import exceptions as kms_errors  # noqa: E402
from moto.kms import models as kms  # noqa: E402

_original_describe_key = kms.KmsBackend.describe_key


def _describe_key(self, key_id):
    key = _original_describe_key(self, key_id)
    if any(name.startswith("alias/aws/") for name in key.aliases):
        key.key_manager = "AWS"
    return key


kms.KmsBackend.describe_key = _describe_key

# Keys created by CloudFormation keep their KeyPolicy as an object; AWS (and the rest of moto)
# hold it as JSON text.
_original_key_from_cfn = kms.Key.create_from_cloudformation_json.__func__


def _key_from_cfn(cls, *args, **kwargs):
    key = _original_key_from_cfn(cls, *args, **kwargs)
    if not isinstance(key.policy, str):
        key.policy = json.dumps(key.policy)
    return key


kms.Key.create_from_cloudformation_json = classmethod(_key_from_cfn)

# A key created with the tag `rsp:key-id` gets that ID (a UUID), so shipped example policies
# can name the ARN of a key `make emulator` creates. AWS has no such tag; nothing else uses it.
_wanted_key_id = threading.local()
_original_generate_key_id = kms.generate_key_id
_original_create_key = kms.KmsBackend.create_key


def _generate_key_id(*args, **kwargs):
    wanted = getattr(_wanted_key_id, "value", None)
    _wanted_key_id.value = None
    return wanted or _original_generate_key_id(*args, **kwargs)


def _create_key(self, policy, key_usage, key_spec, description, tags, *args, **kwargs):
    wanted = next((t.get("TagValue") for t in tags or [] if t.get("TagKey") == "rsp:key-id"), None)
    if wanted and not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", wanted):
        raise kms_errors.ValidationException(f"rsp:key-id {wanted!r} is not a key ID (a lowercase UUID)")
    _wanted_key_id.value = wanted
    try:
        return _original_create_key(self, policy, key_usage, key_spec, description, tags, *args, **kwargs)
    finally:
        _wanted_key_id.value = None


kms.generate_key_id = _generate_key_id
kms.KmsBackend.create_key = _create_key


