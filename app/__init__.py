"""The composition root: the ``pairflow`` CLI and the process runners.

It is the only room that imports every other one: it builds sources, flows,
sinks, the venue and the API from settings, so the rooms themselves stay
independent of each other (see docs/ARCHITECTURE.md).
"""
