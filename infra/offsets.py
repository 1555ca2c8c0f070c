"""The offset vector: which prefix of the log a snapshot, a replay or the live tallies reflect.

Maps topic -> partition -> the *next* offset (an exclusive end): `{"arrears.inspection":
{0: 120, 1: 98}}` means offsets 0..119 of partition 0 and 0..97 of partition 1; a partition
that is absent counts as 0 (nothing read). `warehouse.offsets` parses and prints it.
"""

from __future__ import annotations

__all__ = ["Offsets"]

Offsets = dict[str, dict[int, int]]
