"""Group settings of the onboarding feature ([defaults.onboarding] and [groups."…".onboarding] in the config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class OnboardingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    enabled: bool = True
