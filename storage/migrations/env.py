"""Alembic environment: runs against the engine handed over in ``config.attributes``."""

from alembic import context

from storage.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTER needs batch mode
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
