"""Repository-wide pytest configuration: Hypothesis settings profiles.

``HYPOTHESIS_PROFILE=ci`` (set by CI) runs more examples with no deadline; the
default ``dev`` profile stays quick.  Scenario files are collected by the
``testbed`` pytest plugin (see :mod:`testbed.pytest_plugin`).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
