"""What a scenario's planned operator actions can be (``operations[].action``).

Its own module so that both the scenario's model (:mod:`testbed.scenario`) and its
cross-checks (:mod:`testbed.crosscheck`, which the model calls) can name the actions.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["OperationAction"]


class OperationAction(StrEnum):
    """Planned (not faulty) operations an operator performs."""

    REVOKE = "revoke"
    REBOOTSTRAP = "rebootstrap"  # a fresh bootstrap secret, then a new first enrollment
    OFFBOARD = "offboard"
    SUSPEND = "suspend"
    RESUME = "resume"
    ROTATE_CA_KEY = "rotate-ca-key"
    # credentials: shared: a new credential for the departments of the target's devices
    ROTATE_SHARED_CREDENTIAL = "rotate-shared-credential"
