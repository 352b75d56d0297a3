"""pytest set-up for the idfzip bindings' tests (tests/python/run_pytest.sh).

Prints the suite's closing line "python: N passed, N failed" (the
convention of tests/run_tests.sh; errors and xpasses count as failed)."""


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    stats = terminalreporter.stats
    passed = len(stats.get("passed", []))
    failed = sum(len(stats.get(k, [])) for k in ("failed", "error", "xpassed"))
    if exitstatus not in (0, 1) and failed == 0:
        failed = 1  # interrupted, usage error, or nothing collected
    terminalreporter.write_line("python: %d passed, %d failed" % (passed, failed))
