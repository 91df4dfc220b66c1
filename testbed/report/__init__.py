"""Reports of a run: JSON (measures and expectations), events JSONL, HTML with plots, summary."""

from testbed.report.build import Report, build_report

__all__ = ["Report", "build_report"]
