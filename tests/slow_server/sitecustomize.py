"""Test seam for the browser tests: a server started with this folder on PYTHONPATH and
EZZ_TEST_SLOW="package.module.function@caller=seconds" sleeps that long once, the first time the function is
called from a function named `caller` — a script run held at a known point, as a loaded machine holds one,
so that the browser can act while it is still running. Nothing else is changed; without the variable this
file does nothing."""
from __future__ import annotations

import os

_spec = os.environ.get("EZZ_TEST_SLOW")
if _spec:
    import importlib
    import inspect
    import sys
    import time

    _target, _, _rest = _spec.partition("@")
    _caller, _, _seconds = _rest.partition("=")
    _module_name, _, _function_name = _target.rpartition(".")
    sys.path.insert(0, os.getcwd())
    _module = importlib.import_module(_module_name)
    _original = getattr(_module, _function_name)
    _held = False

    def _slow_once(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        global _held  # noqa: PLW0603
        if not _held and inspect.stack()[1].function == _caller:
            _held = True
            print(f"held {_target} in {_caller} for {_seconds} s", file=sys.stderr, flush=True)
            time.sleep(float(_seconds))
        return _original(*args, **kwargs)

    setattr(_module, _function_name, _slow_once)
