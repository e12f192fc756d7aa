"""The models and the Alembic migrations describe the same schema, and the migrations run
down to nothing and back up on a fresh database."""

import uuid
from contextlib import contextmanager

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from psycopg import sql
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from helpdesk import create_app
from helpdesk.extensions import db
from helpdesk.tickets.search import is_search_table
from tests.conftest import base_config


def _modelled(name, type_, _parents) -> bool:
    # The full-text search tables are raw SQL kept in sync by triggers, not models.
    return not (type_ == "table" and is_search_table(name))


def _schema_differences() -> list:
    """What `flask db migrate` would write for the app's current database: ideally nothing."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": _modelled}
        )
        return compare_metadata(context, db.metadata)


def _assert_no_differences() -> None:
    differences = _schema_differences()
    assert not differences, "models and migrations differ (write a migration):\n" + "\n".join(
        str(diff) for diff in differences
    )


def _tables(include_search: bool = False) -> set[str]:
    names = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
    return names if include_search else {n for n in names if not is_search_table(n)}


def test_models_match_the_migrated_schema(app):
    _assert_no_differences()
    assert _tables() == set(db.metadata.tables)


@contextmanager
def _fresh_database(database_url: str, tmp_path):
    """An empty database beside the suite's: a new SQLite file, or a new PostgreSQL database
    in the same server (dropped afterwards)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    name = f"helpdesk_migrations_{uuid.uuid4().hex[:12]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _flask_db(app, *args: str) -> None:
    result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, f"flask db {' '.join(args)}:\n{result.output}{result.exception}"


def test_migrations_downgrade_to_base_and_upgrade_again(database_url, tmp_path):
    with _fresh_database(database_url, tmp_path) as fresh_url:
        app = create_app(base_config(fresh_url, str(tmp_path / "storage")))
        with app.app_context():
            try:
                assert _tables(include_search=True) == set()
                _flask_db(app, "upgrade", "heads")
                assert _tables() == set(db.metadata.tables)
                _flask_db(app, "downgrade", "base")
                assert _tables(include_search=True) == set()
                _flask_db(app, "upgrade", "heads")
                _assert_no_differences()
            finally:
                db.session.remove()
                db.engine.dispose()
