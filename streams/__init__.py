"""The Faust app: agents and changelog-backed tables with the running tallies."""
