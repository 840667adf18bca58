"""APScheduler wiring (it only wakes the engine; the database is the source of truth)."""
