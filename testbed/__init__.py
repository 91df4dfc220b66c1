"""The hospital device-identity testbed: a simulated multi-site hospital (CA with EST,
network zones, EHR and PACS services) that onboards, renews and offboards devices under
injected faults, in simulation or live on loopback.

The public API (everything else is internal and may change)::

    import testbed

    scenario = testbed.load_scenario("scenarios/two-site-pilot.yaml")
    result = testbed.run_scenario(scenario)
    result.report.measures["unauthorized_access"]

:class:`Hospital` is the composition root both transports build; :class:`Testbed`
drives it with SimPy; :mod:`testbed.operations` holds the operator operations.
"""

from importlib.metadata import PackageNotFoundError, version

from testbed.core import Testbed
from testbed.errors import ScenarioError, TestbedError
from testbed.hospital import Hospital
from testbed.report import Report
from testbed.run import RunResult, run_scenario
from testbed.scenario import Scenario, load_scenario

__all__ = [
    "Hospital",
    "Report",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Testbed",
    "TestbedError",
    "__version__",
    "load_scenario",
    "run_scenario",
]

try:
    __version__ = version("hospital-device-identity-testbed")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
