"""Errors of the warehouse: one root, a subclass per thing that can go wrong."""

from __future__ import annotations


class WarehouseError(Exception):
    """Root of warehouse errors; the message says what was wrong and how to fix it."""


class OffsetsError(WarehouseError, ValueError):
    """An offset vector could not be read (bad syntax, unknown topic, beyond the log end)."""


class SnapshotError(WarehouseError):
    """A snapshot could not be found, read or written."""


class ArchiveError(WarehouseError):
    """The event archive is unreadable or does not cover what was asked of it."""
