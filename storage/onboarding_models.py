"""Tables of the onboarding feature (migrations: storage/migrations/versions/onboarding_*.py, branch 'onboarding')."""

from __future__ import annotations

from storage.models import Base  # noqa: F401
