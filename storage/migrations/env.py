"""Alembic environment. Qunzhu always hands in a live connection (storage.db.upgrade); running
`alembic` by hand is not needed: use `qunzhu db upgrade -c FILE`."""

from alembic import context

from storage.models import Base
import storage.all_models  # noqa: F401  (registers every feature's tables on Base.metadata)

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `qunzhu db upgrade -c FILE`")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
