"""The points feature: its router is in router.py, its group settings in settings.py."""
