"""`arrears demo`: the December story end to end on the local broker."""

from __future__ import annotations

import argparse

from pipeline.commands import infra


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the December story end to end on a local broker",
        description=(
            "Bring the local broker up, create the topics and show their status. "
            "(Later steps of the December story are added as the pipeline grows.)"
        ),
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    infra.run_up(args)
    return infra.run_status(args)
