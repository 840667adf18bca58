"""Tables of the columns feature (migrations: storage/migrations/versions/columns_*.py, branch 'columns')."""

from __future__ import annotations

from storage.models import Base  # noqa: F401
