"""Tables of the wecom feature (migrations: storage/migrations/versions/wecom_*.py, branch 'wecom')."""

from __future__ import annotations

from storage.models import Base  # noqa: F401
