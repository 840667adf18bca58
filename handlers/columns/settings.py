"""Columns: group-level switches ([defaults.columns]) and the column definitions ([columns])."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ColumnsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    enabled: bool = True


class ColumnsGlobal(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)
