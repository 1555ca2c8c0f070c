"""Event archive, snapshots, replay, diff and report rendering."""
