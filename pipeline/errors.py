"""Errors the command line reports as one clear line and an exit code."""

from __future__ import annotations


class CliError(Exception):
    """A failure to report to the user; `exit_code` is what `arrears` exits with."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
