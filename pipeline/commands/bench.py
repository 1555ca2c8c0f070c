"""`arrears bench ...`: the thin entry to the benchmarks, which live in `benchmarks/`."""

from __future__ import annotations

from benchmarks.command import register

__all__ = ["register"]
