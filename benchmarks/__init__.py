"""Scale benchmarks of the testbed against a bare SimPy loop (``make bench``)."""
