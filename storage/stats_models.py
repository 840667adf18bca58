"""Tables of the stats feature (migrations: storage/migrations/versions/stats_*.py, branch 'stats')."""

from __future__ import annotations

from storage.models import Base  # noqa: F401
