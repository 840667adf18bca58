"""Tables of the points feature (migrations: storage/migrations/versions/points_*.py, branch 'points')."""

from __future__ import annotations

from storage.models import Base  # noqa: F401
