"""The one place great-expectations is imported: telemetry off before the import, quiet logs."""

from __future__ import annotations

import logging
import os

# GX reads these at import time: no usage statistics leave the machine, no progress bars.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import great_expectations as gx

logging.getLogger("great_expectations").setLevel(logging.ERROR)

__all__ = ["gx"]
