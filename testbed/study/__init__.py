"""tmp"""
from testbed.study.snapshot import snapshot, snapshots

__all__ = ["snapshot", "snapshots"]
