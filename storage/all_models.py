"""Imports every module that declares tables, so Base.metadata knows them all."""

import storage.models  # noqa: F401
