"""Group settings of the rules feature ([defaults.rules] and [groups."…".rules] in the config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RulesSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    enabled: bool = True
