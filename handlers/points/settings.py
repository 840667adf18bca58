"""Group settings of the points feature ([defaults.points] and [groups."…".points] in the config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PointsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    enabled: bool = True
