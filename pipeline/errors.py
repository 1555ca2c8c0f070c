"""Errors the command line reports as one clear line, and the exit codes every command uses."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["CliError", "ExitCode", "MEANINGS"]


class ExitCode(IntEnum):
    """What `arrears` exits with; the README's table lists them, each `--help` those it uses."""

    OK = 0
    FAILURE = 1  # the command could not do its work (the message says why)
    USAGE = 2  # bad arguments or unreadable input named on the command line
    REJECTED = 3  # some records were refused and dead-lettered (ingest, resubmit)
    MISMATCH = 4  # a replay differs from the snapshot it verifies
    CRITICAL = 6  # a critical data-quality expectation failed (check, submit)
    INTERRUPTED = 130  # Ctrl-C


#: What each code means, as the README's table and every `--help` say it.
MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "done",
    ExitCode.FAILURE: "failure: the command could not do its work (the message says why)",
    ExitCode.USAGE: "usage: bad arguments, or an unreadable input named on the command line",
    ExitCode.REJECTED: "some records were refused and dead-lettered",
    ExitCode.MISMATCH: "a replay differs from the snapshot it verifies",
    ExitCode.CRITICAL: "a critical data-quality expectation failed",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}
assert set(MEANINGS) == set(ExitCode), "every exit code needs its meaning"


class CliError(Exception):
    """A failure to report to the user; `exit_code` is what `arrears` exits with."""

    exit_code: int = ExitCode.FAILURE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = ExitCode(exit_code)
