"""`arrears` tells polars' allocator to hand freed memory back after half a second (README,
"The check of ten million events in under 2 GB"). jemalloc reads the setting once, when
polars loads, so the command line must set it before anything imports polars."""

from __future__ import annotations

import os
import subprocess
import sys

_PROBE = """
import os, sys
import pipeline.cli
assert "polars" not in sys.modules, "pipeline.cli imports polars before it sets the allocator"
print(os.environ["_RJEM_MALLOC_CONF"])
"""


def _probe(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_the_command_line_sets_polars_allocator_before_polars_loads() -> None:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    assert _probe(env) == "dirty_decay_ms:500,muzzy_decay_ms:0"


def test_a_setting_of_the_operators_own_is_kept() -> None:
    assert _probe({**os.environ, "_RJEM_MALLOC_CONF": "dirty_decay_ms:0"}) == "dirty_decay_ms:0"
