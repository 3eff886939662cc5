"""Benchmarks that print figures (never timed tests). Run them with `make bench` or `python -m bench [name ...]`."""
