"""Benchmarks (`arrears bench ...`): each writes its figures as JSON under `benchmarks/results/`
and prints them. Not part of the product packages."""
