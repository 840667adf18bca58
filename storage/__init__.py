"""Persistence: SQLAlchemy 2.0 async models, repository functions and Alembic migrations.
Handlers reach the database only through the repository functions here and in each feature's repo."""
