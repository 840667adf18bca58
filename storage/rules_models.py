"""Tables of the rules feature (migrations: storage/migrations/versions/rules_*.py, branch 'rules')."""

from __future__ import annotations

from storage.models import Base  # noqa: F401
