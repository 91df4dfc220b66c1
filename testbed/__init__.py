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

from importlib.metadata import PackageNotFoundError, version

from testbed.api import Run, compare, run
from testbed.core import Testbed
from testbed.errors import ScenarioError, TestbedError
from testbed.hospital import Hospital
from testbed.report import Report
from testbed.runner import RunResult, run_scenario
from testbed.scenario import Scenario, load_scenario

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
