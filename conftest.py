"""Repository-wide pytest configuration: Hypothesis settings profiles, and what keeps
pytest-xdist workers apart.

``HYPOTHESIS_PROFILE=ci`` (set by CI) runs more examples with no deadline; the
default ``dev`` profile stays quick.  Scenario files are collected by the
``testbed`` pytest plugin (see :mod:`testbed.pytest_plugin`).  ``TESTBED_COMPILED=1``
(``make test-compiled``) requires every process to import the compiled build.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

import testbed.events

# ``make test-compiled`` runs the suites on the compiled build (benchmarks/compiled.py):
# a process that found the pure testbed first (the editable install, say) would test
# that instead, and pass
if os.environ.get("TESTBED_COMPILED") == "1" and testbed.events.__file__.endswith(".py"):
    raise RuntimeError(f"TESTBED_COMPILED=1, but testbed comes from {testbed.events.__file__}")

settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# ``make test`` runs the tests in pytest-xdist workers.  Each worker names its network
# namespaces with its own prefix (``tbgw0``, ``tbgw1``..., after any prefix the
# environment sets), so an emulation test that checks it left no namespace behind sees
# only its own worker's.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER:
    os.environ["TESTBED_NETNS_PREFIX"] = os.environ.get("TESTBED_NETNS_PREFIX", "tb") + _WORKER
