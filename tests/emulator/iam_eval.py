"""A small evaluator of AWS's documented policy evaluation logic, for the emulator.

Moto evaluates actions and resources of identity policies but supplies no condition context
(moto source, iam/access_control.py), and evaluates no resource policy (SNS topic policies, KMS
key policies, SQS queue policies). This module decides one request against the policies that
apply to it, as AWS's texts describe:

- IAM User Guide, "Policy evaluation logic": an explicit Deny in any policy wins; otherwise the
  request is allowed when an identity policy or a resource policy allows it (same account); a
  request across accounts needs both the caller's identity policies and the resource policy to
  allow it. A service principal (cloudwatch.amazonaws.com, events.amazonaws.com) has no
  identity policies: only the resource policy can allow it.
- KMS Developer Guide, "Key policies": no IAM policy gives access to a key unless the key
  policy allows it; a key policy statement for the account (`arn:aws:iam::ACCOUNT:root`) lets
  that account's IAM policies decide, a statement naming the principal allows it by itself.
- IAM User Guide, "Condition operators": several values of one key match if any matches; several
  keys and operators must all match; a key missing from the request context makes a condition
  false, except for negated operators (`StringNotEquals`, `ArnNotLike`, ...), which are then
  true, `...IfExists`, which is then true, and `Null`, which tests presence.
- IAM User Guide, "Multivalued context keys": `ForAllValues:` is true when every value in the
  request matches (and when the key is missing or empty); `ForAnyValue:` when at least one does
  (false when missing).
- Wildcards: `*` and `?` in actions (case-insensitive), resources and `...Like` operators.
"""

import functools
import re

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "Allow", "ExplicitDeny", "ImplicitDeny"


def _list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _wildcard(pattern, text, ignore_case=False):
    if ignore_case:
        pattern, text = pattern.lower(), text.lower()
    return _wildcard_regex(pattern).fullmatch(text) is not None


@functools.lru_cache(maxsize=4096)
def _wildcard_regex(pattern):
    """A policy pattern's regex, compiled once (the same few hundred patterns are matched on
    every call)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL)


def _arn_like(pattern, arn):
    """ArnLike: the six colon-separated parts match one by one (IAM guide, ARN operators)."""
    p, a = pattern.split(":", 5), arn.split(":", 5)
    if len(p) != 6 or len(a) != 6:
        return _wildcard(pattern, arn)
    return all(_wildcard(x, y) for x, y in zip(p, a))


def _bool(value):
    return str(value).lower() == "true"


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


_MATCHERS = {
    "StringEquals": lambda want, got: want == got,
    "StringEqualsIgnoreCase": lambda want, got: want.lower() == got.lower(),
    "StringLike": lambda want, got: _wildcard(want, got),
    "ArnEquals": lambda want, got: want == got,
    "ArnLike": _arn_like,
    "Bool": lambda want, got: _bool(want) == _bool(got),
    "NumericEquals": lambda want, got: _number(want) is not None and _number(want) == _number(got),
    "NumericLessThan": lambda want, got: _number(got) is not None and _number(got) < _number(want),
    "NumericLessThanEquals": lambda want, got: _number(got) is not None and _number(got) <= _number(want),
    "NumericGreaterThan": lambda want, got: _number(got) is not None and _number(got) > _number(want),
    "NumericGreaterThanEquals": lambda want, got: _number(got) is not None and _number(got) >= _number(want),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


def _context_values(context, key):
    """The request's values for `key` (keys are case-insensitive), or None when missing."""
    for name, value in context.items():
        if name.lower() == key.lower():
            return [str(v) for v in _list(value)]
    return None


def _condition_holds(operator, key, wanted, context):
    wanted = [str(w) for w in _list(wanted)]
    set_operator = None
    if ":" in operator and operator.split(":", 1)[0] in ("ForAllValues", "ForAnyValue"):
        set_operator, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[: -len("IfExists")]
    got = _context_values(context, key)
    if operator == "Null":
        return _bool(wanted[0]) == (got is None or got == [])
    if operator not in _MATCHERS and operator not in _NEGATED:
        raise ValueError(f"condition operator {operator} is not modelled")
    negated = operator in _NEGATED
    match = _MATCHERS[_NEGATED.get(operator, operator)]
    if got is None or (set_operator and got == []):
        if set_operator == "ForAllValues":
            return True
        if set_operator == "ForAnyValue":
            return False
        return if_exists or negated

    def one(value):
        hit = any(match(w, value) for w in wanted)
        return not hit if negated else hit

    if set_operator == "ForAllValues":
        return all(one(v) for v in got)
    return any(one(v) for v in got)


def conditions_hold(condition, context):
    return all(_condition_holds(operator, key, wanted, context)
               for operator, keys in (condition or {}).items()
               for key, wanted in keys.items())


def _principal_matches(principal, caller):
    """`caller`: {"service": name} or {"arn": ARN, "account": ID}."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    # IAM guide, principal element: {"AWS": "*"} is the same as "*" (everyone).
    if "*" in _list(principal.get("AWS")):
        return True
    if "service" in caller:
        return caller["service"] in _list(principal.get("Service"))
    for entry in _list(principal.get("AWS")):
        if entry == "*" or entry == caller["account"] or entry == caller["arn"]:
            return True
        if re.fullmatch(r"arn:aws[a-z-]*:iam::(\d{12}):root", entry or "") and entry.split(":")[4] == caller["account"]:
            return True
    return False


def _statement_applies(statement, action, resource, context, caller=None):
    if "Action" in statement and not any(_wildcard(a, action, ignore_case=True) for a in _list(statement["Action"])):
        return False
    if "NotAction" in statement and any(_wildcard(a, action, ignore_case=True) for a in _list(statement["NotAction"])):
        return False
    if "Resource" in statement and not any(_wildcard(r, resource) for r in _list(statement["Resource"])):
        return False
    if "NotResource" in statement and any(_wildcard(r, resource) for r in _list(statement["NotResource"])):
        return False
    if caller is not None:
        if "Principal" in statement and not _principal_matches(statement["Principal"], caller):
            return False
        if "NotPrincipal" in statement and _principal_matches(statement["NotPrincipal"], caller):
            return False
    return conditions_hold(statement.get("Condition"), context)


def decide(documents, action, resource, context, caller=None):
    """ALLOW, EXPLICIT_DENY or IMPLICIT_DENY of `documents` (policy JSON objects) alone.
    `caller` is given for resource policies (their statements name principals)."""
    result = IMPLICIT_DENY
    for document in documents:
        for statement in _list((document or {}).get("Statement")):
            if not _statement_applies(statement, action, resource, context, caller):
                continue
            if statement.get("Effect") == "Deny":
                return EXPLICIT_DENY
            if statement.get("Effect") == "Allow":
                result = ALLOW
    return result


def names_caller_itself(document, caller):
    """Whether a resource policy's allowing statements name the caller itself (not only its
    account's root), which in a key policy grants access without IAM."""
    for statement in _list((document or {}).get("Statement")):
        principal = statement.get("Principal")
        if statement.get("Effect") == "Allow" and isinstance(principal, dict):
            if "arn" in caller and caller["arn"] in _list(principal.get("AWS")):
                return True
    return False


def evaluate(action, resource, context, caller, identity=None, resource_policy=None,
             resource_account=None, key_policy=False):
    """AWS's decision for one request.

    caller: {"service": "cloudwatch.amazonaws.com"} or {"arn": role ARN, "account": ID}.
    identity: the caller's identity policies (None for a service principal).
    resource_policy: the resource's policy (a topic, key or queue policy) or None.
    key_policy: True for KMS, where the key policy must allow (itself, or the account's IAM).
    """
    if decide(identity or [], action, resource, context) == EXPLICIT_DENY:
        return EXPLICIT_DENY
    if resource_policy and decide([resource_policy], action, resource, context, caller) == EXPLICIT_DENY:
        return EXPLICIT_DENY
    by_resource = decide([resource_policy], action, resource, context, caller) if resource_policy else IMPLICIT_DENY
    if "service" in caller:
        return by_resource
    by_identity = decide(identity or [], action, resource, context)
    same_account = resource_account is None or resource_account == caller["account"]
    if key_policy:
        if by_resource != ALLOW:
            return IMPLICIT_DENY
        if names_caller_itself(resource_policy, caller):
            return ALLOW
        return by_identity
    if same_account:
        return ALLOW if ALLOW in (by_identity, by_resource) else IMPLICIT_DENY
    return ALLOW if by_identity == ALLOW and by_resource == ALLOW else IMPLICIT_DENY


def access_denied_message(caller, action, resource, why="no identity-based policy allows the action"):
    """AWS's AccessDenied wording (IAM guide, "Troubleshoot access denied error messages")."""
    who = caller.get("arn") or caller.get("service")
    return f"User: {who} is not authorized to perform: {action} on resource: {resource} because {why}"


__all__ = ["ALLOW", "EXPLICIT_DENY", "IMPLICIT_DENY", "evaluate", "decide", "conditions_hold",
           "access_denied_message"]
