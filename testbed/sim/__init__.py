"""SimPy processes that drive the decision core: devices, PKI operations, faults.

Processes are plain generator functions taking the testbed first (SimPy style); they
never decide anything themselves: they ask the services in :class:`~testbed.core.Testbed`.
"""
