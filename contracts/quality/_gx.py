"""The one place great-expectations is imported: telemetry off before the import, quiet logs."""

from __future__ import annotations

import logging
import os

# GX reads these at import time: no usage statistics leave the machine, no progress bars.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import great_expectations as gx
from great_expectations.execution_engine import pandas_execution_engine as _pandas_engine

logging.getLogger("great_expectations").setLevel(logging.ERROR)

# GX fingerprints every in-memory batch under HASH_THRESHOLD bytes (1e9) by hashing each
# of its values (a batch marker, pandas_data_fingerprint): 4.5 s of the event suite's 12 s
# at two million events (py-spy). A batch here is named by the snapshot and its offsets
# instead, so only small ones (the snapshot's cells, the dead letters) keep a fingerprint.
_pandas_engine.HASH_THRESHOLD = 32_000_000

__all__ = ["gx"]
