"""The experiment report: one self-contained HTML file from a run directory (tables, plots, trace viewer)."""

from fs1.report.html import write_report

__all__ = ["write_report"]
