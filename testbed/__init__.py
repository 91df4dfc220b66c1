"""The hospital device-identity testbed: a simulated multi-site hospital (CA with EST,
network zones, EHR and PACS services) that onboards, renews and offboards devices under
injected faults, in simulation or live on loopback.

The public API (everything else is internal and may change)::

    import testbed

    scenario = testbed.load_scenario("scenarios/two-site-pilot.yaml")
    run = testbed.run(scenario.with_({"pki.lifetime": "10d"}))   # re-validated
    run.measures["unauthorized_access"]
    run.measures_frame(); run.breakdown("site"); run.incidents_frame()
    run.events_frame("access-decision"); run.timeline()
    testbed.compare({"pilot": testbed.run(scenario), "10-day": run})

:class:`Hospital` is the composition root both transports build; :class:`Testbed`
drives it with SimPy; :mod:`testbed.operations` holds the operator operations.
"""

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from testbed.api import Run, compare, run
    from testbed.core import Testbed
    from testbed.errors import ScenarioError, TestbedError
    from testbed.hospital import Hospital
    from testbed.report import Report
    from testbed.runner import RunResult, run_scenario
    from testbed.scenario import Scenario, load_scenario

# Imported when first used (PEP 562), so a program that needs one module of the
# package (a device adapter, `testbed devices`) does not pay for pandas and SimPy.
_LAZY = {
    "Run": "testbed.api", "compare": "testbed.api", "run": "testbed.api",
    "Testbed": "testbed.core", "ScenarioError": "testbed.errors",
    "TestbedError": "testbed.errors", "Hospital": "testbed.hospital",
    "Report": "testbed.report", "RunResult": "testbed.runner",
    "run_scenario": "testbed.runner", "Scenario": "testbed.scenario",
    "load_scenario": "testbed.scenario",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'testbed' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

__all__ = [
    "Hospital",
    "Report",
    "Run",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Testbed",
    "TestbedError",
    "__version__",
    "compare",
    "load_scenario",
    "run",
    "run_scenario",
]

try:
    __version__ = version("hospital-device-identity-testbed")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
