"""Group settings of the stats feature ([defaults.stats] and [groups."…".stats] in the config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StatsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    enabled: bool = True
