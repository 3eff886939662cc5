"""The journey baseline: what was measured, where, and how it compares with the design's targets.

`report` renders a baseline (markdown and an SVG chart) from summaries; `collect` reads them from a
running hub's API and describes the machine. The traffic itself comes from
`channels_plugins.simulation`, which `manage.py journey_baseline` imports when it drives a run (this
package imports neither `messaging` nor `channels_plugins`).
"""
