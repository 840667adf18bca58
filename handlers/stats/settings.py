"""Group settings of the stats feature ([defaults.stats] and [groups."…".stats] in the config)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class StatsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    enabled: bool = True
    # Privacy: message texts kept as audit evidence are blanked this many days after the event.
    evidence_retention_days: int = Field(default=30, ge=1, le=3650)
    # /stats without an argument covers this many days (7d, 30d or 90d).
    default_period: Literal["7d", "30d", "90d"] = "7d"
    # How many members /stats lists as top contributors.
    top_contributors: int = Field(default=5, ge=1, le=50)
    # How many weekly join cohorts /stats shows retention for (the most recent complete weeks).
    retention_weeks: int = Field(default=4, ge=1, le=26)
    # A TrueType/OpenType font with Chinese glyphs for chart labels (e.g. NotoSansCJK-Regular.ttc).
    # Without one (and none installed), charts are labelled in English.
    chart_font: str | None = None
