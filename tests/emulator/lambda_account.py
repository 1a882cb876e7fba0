"""Lambda's account concurrency: GetAccountSettings, and the 100 unreserved that reserving keeps.

moto has no GetAccountSettings, and enforces the unreserved minimum only at
PutFunctionConcurrency and only when MOTO_LAMBDA_CONCURRENCY_QUOTA is set; a function created
with `ReservedConcurrentExecutions` (CloudFormation's `AWS::Lambda::Function`) is never checked.
AWS's texts:
- "By default, Lambda gives your account a total concurrency limit of 1,000 concurrent
  executions across all functions in an AWS Region"; new accounts may have less (Lambda guide,
  "Lambda quotas"; the install stack's ProviderConcurrency description says 10).
- "You can reserve up to the Unreserved account concurrency value that is shown, minus 100 for
  functions that don't have reserved concurrency" (Lambda guide, "Configuring reserved
  concurrency"); a request past it fails with InvalidParameterValueException "Specified
  ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution
  below its minimum value of [100]." Accounts with a small quota have been seen reporting a
  lower minimum ([50]); the emulator models the documented 100, the stricter of the two.
- GetAccountSettings answers `AccountLimit.ConcurrentExecutions` (the quota) and
  `UnreservedConcurrentExecutions` (the quota less every function's reserved concurrency), per
  account and region (Lambda API reference, GetAccountSettings, AccountLimit).

The quota is the runtime setting `lambda_concurrency_quota` (POST /_rsp/config; default 1,000),
the same in every account and region of the emulator.
"""

import json

from moto.awslambda import models as lambda_models
from moto.awslambda import responses as lambda_responses
from moto.awslambda import urls as lambda_urls
from moto.awslambda.exceptions import InvalidParameterValueException

from state import _lock, _settings

_settings.setdefault("lambda_concurrency_quota", 1000)
# The unreserved concurrency reserving must leave (Lambda guide, "Configuring reserved concurrency").
UNRESERVED_MINIMUM = 100


def _quota():
    with _lock:
        return int(_settings["lambda_concurrency_quota"])


def _reserved(backend, except_function=None):
    return sum(int(f.reserved_concurrency) for f in backend.list_functions()
               if f.reserved_concurrency and f.function_name != except_function)


def _check_reserve(backend, function_name, reserved):
    if reserved is None:
        return
    if _quota() - _reserved(backend, function_name) - int(reserved) < UNRESERVED_MINIMUM:
        raise InvalidParameterValueException(
            "Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{UNRESERVED_MINIMUM}].")


def _get_account_settings(self):
    functions = self.backend.list_functions()
    quota = _quota()
    body = {"AccountLimit": {"TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000,
                             "CodeSizeZipped": 52428800, "ConcurrentExecutions": quota,
                             "UnreservedConcurrentExecutions": quota - _reserved(self.backend)},
            "AccountUsage": {"TotalCodeSize": sum(int(getattr(f, "code_size", 0) or 0) for f in functions),
                             "FunctionCount": len(functions)}}
    return 200, {}, json.dumps(body)


lambda_responses.LambdaResponse.get_account_settings = _get_account_settings
lambda_urls.url_paths[r"{0}/(?P<api_version>[^/]+)/account-settings/?$"] = lambda_responses.LambdaResponse.dispatch

_original_put = lambda_models.LambdaBackend.put_function_concurrency
_original_create = lambda_models.LambdaBackend.create_function


def _put_function_concurrency(self, function_name, reserved_concurrency):
    _check_reserve(self, self.get_function(function_name).function_name, reserved_concurrency)
    return _original_put(self, function_name, reserved_concurrency)


def _create_function(self, spec):
    _check_reserve(self, spec.get("FunctionName"), spec.get("ReservedConcurrentExecutions"))
    return _original_create(self, spec)


lambda_models.LambdaBackend.put_function_concurrency = _put_function_concurrency
lambda_models.LambdaBackend.create_function = _create_function
