"""Errors of the streams that the command line reports as one clear line."""

from __future__ import annotations

__all__ = ["StreamsError", "UnsupportedVersion"]


class StreamsError(Exception):
    """Root of the streams' errors; the message says what is wrong and what to do."""


class UnsupportedVersion(StreamsError):
    """The installed faust-streaming or aiokafka is not the version `streams._faust` is written
    against: its hooks into their internals would be unchecked guesses, so the worker refuses."""
