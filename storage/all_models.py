"""Imports every module that declares tables, so Base.metadata knows them all."""

import storage.columns_models  # noqa: F401
import storage.models  # noqa: F401
import storage.onboarding_models  # noqa: F401
import storage.points_models  # noqa: F401
import storage.rules_models  # noqa: F401
import storage.stats_models  # noqa: F401
import storage.wecom_models  # noqa: F401
import storage.web_models  # noqa: F401
