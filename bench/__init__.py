"""Benchmarks: run as python -m bench NAME; they print name: value lines."""
