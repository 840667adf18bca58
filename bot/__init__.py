"""Qunzhu (群主): the core that dispatches group events to feature routers."""

__version__ = "0.1.0"
