"""Print the reliability suite's summary table after the run (also when run alone: pytest tests/reliability)."""

from __future__ import annotations

from tests.reliability.support import RESULTS, summary_lines


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001 - pytest's hook signature
    """Print what each fault cost, one row per scenario that ran."""
    if RESULTS:
        terminalreporter.section("reliability summary")
        for line in summary_lines(RESULTS):
            terminalreporter.write_line(line)
