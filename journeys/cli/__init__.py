"""Operator tooling for `manage.py journey`: the HTTP client, the design's thresholds, and the renderers.

Kept apart from the command so that other tools (the baseline report) can reuse the thresholds and the
bottleneck ranking without importing a management command.
"""
