"""Performance only: moto work that is the same on every request, done once.

Nothing here changes what a request answers; each patch names the share of the emulator's CPU
it saved in the demo (py-spy, December 2026), where the test pool runs on 2 busy cores.
"""

import threading

from moto import backends as _moto_backends
from moto.stepfunctions.parser.asl.parse import asl_parser as _asl_parser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor as _Preprocessor

# moto's dispatcher lists its own package directory (a stat per service) on every request to
# find the service a host names; the list cannot change while the server runs (about 10 %).
_moto_modules = tuple(_moto_backends.list_of_moto_modules())
_moto_backends.list_of_moto_modules = lambda: _moto_modules

# Step Functions parses a state machine's definition (ANTLR) at every execution's start; the
# parse tree of a definition is the same each time and only read afterwards, so it is kept by
# definition text. The evaluation components are still built fresh for every execution (they
# carry an execution's state), and a definition that does not parse raises as before (about 12 %).
class Memo:
    """Values made once per key, shared by the server's threads (two threads may both make a
    missing value; the first stored is kept)."""

    def __init__(self):
        self._values, self._lock = {}, threading.Lock()

    def get(self, key, make):
        with self._lock:
            value = self._values.get(key)
        if value is None:
            value = make()
            with self._lock:
                value = self._values.setdefault(key, value)
        return value


_trees = Memo()
_original_parse = _asl_parser.AmazonStateLanguageParser.parse


def _parse(definition):
    tree = _trees.get(definition, lambda: _original_parse(definition)[1])
    return _Preprocessor().visit(tree), tree


_asl_parser.AmazonStateLanguageParser.parse = staticmethod(_parse)
