"""Errors of the infrastructure layer: broker start-up and topic declarations."""

from __future__ import annotations


class InfraError(Exception):
    """Root of infra errors; the message says what failed and where to look."""


class BrokerError(InfraError):
    """The local broker could not be set up, started or stopped."""


class TopicMismatchError(InfraError):
    """Topics on the broker disagree with the declared topic table."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n  - ".join(problems)
        super().__init__(
            "the broker's topics disagree with the declaration in infra/topics.py:\n  - "
            f"{lines}\nFix the topic on the cluster (or delete it and run `arrears infra up`), "
            "or change the declaration; partition counts can only grow."
        )
