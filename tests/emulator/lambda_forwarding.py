"""Lambda invocations (custom resources, Step Functions tasks) forwarded to a local Lambda
Invoke API per account (`cargo lambda watch`), so the real binaries run.
"""

import json

from state import _lock, _settings

# --- Lambda invocations forwarded to local functions -----------------------------------------
# Without Docker, moto's Lambda only echoes. With `lambda_endpoints` set ({account: URL of a
# Lambda Invoke API such as `cargo lambda watch`}), invocations of that account's functions (by
# CloudFormation custom resources and Step Functions tasks) run the real binary of that name.
import urllib.error  # noqa: E402
import urllib.parse  # noqa: E402
import urllib.request  # noqa: E402

from moto.awslambda import models as awslambda  # noqa: E402

_original_invoke_lambda = awslambda.LambdaFunction._invoke_lambda


def _invoke_lambda(self, event=None):
    with _lock:
        endpoint = _settings["lambda_endpoints"].get(self.account_id)
    if not endpoint:
        return _original_invoke_lambda(self, event=event)
    payload = event if isinstance(event, (str, bytes)) else json.dumps(event)
    if isinstance(payload, str):
        payload = payload.encode()
    url = f"{endpoint}/2015-03-31/functions/{self.function_name}/invocations"
    request = urllib.request.Request(url, data=payload, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as error:
        text = error.read().decode()
    except OSError as error:
        text = json.dumps({"errorType": "Lambda.ServiceException", "errorMessage": str(error)})
    try:
        errored = isinstance(json.loads(text), dict) and "errorType" in json.loads(text)
    except ValueError:
        errored = False
    return text, errored, ""


awslambda.LambdaFunction._invoke_lambda = _invoke_lambda

_original_backend_invoke = awslambda.LambdaBackend.invoke


def _fallback_invoke(backend):
    from moto.awslambda_simple import models as simple
    if isinstance(backend, simple.LambdaSimpleBackend):
        return _original_simple_invoke
    return _original_backend_invoke


def _backend_invoke(self, function_name, qualifier, body, headers, response_headers):
    # Without Docker, moto's Invoke API answers with canned results; run the function instead.
    with _lock:
        forwarded = self.account_id in _settings["lambda_endpoints"]
    if not forwarded:
        return _fallback_invoke(self)(self, function_name, qualifier, body, headers, response_headers)
    function = self.get_function(function_name, qualifier)
    return function.invoke(body, headers, response_headers)


awslambda.LambdaBackend.invoke = _backend_invoke

from moto.awslambda_simple import models as awslambda_simple  # noqa: E402

_original_simple_invoke = awslambda_simple.LambdaSimpleBackend.invoke

# Without Docker, moto answers Invoke from its "simple" backend, which only echoes.
awslambda_simple.LambdaSimpleBackend.invoke = _backend_invoke

