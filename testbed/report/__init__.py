"""Reports of a run: JSON (measures and expectations), events JSONL, HTML with plots, summary."""

from testbed.report.build import Report, build_report
from testbed.report.record import RunRecord, record_from_testbed

__all__ = ["Report", "RunRecord", "build_report", "record_from_testbed"]
