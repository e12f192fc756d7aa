"""Planner statistics for SQLite, which keeps none by itself (PostgreSQL's autovacuum does).

Without them SQLite takes any indexed equality for a needle in a haystack: it would answer
"tickets of my teams" through the team index and sort thousands of rows, where walking the
queue's own index stops after a page. Sampling 1,000 rows per index takes milliseconds.
"""

from datetime import timedelta

from sqlalchemy import text

from helpdesk.extensions import db
from helpdesk.periodic import periodic


@periodic("database.planner_statistics", timedelta(hours=1))
def refresh_planner_statistics() -> str | None:
    """Sample fresh statistics (SQLite only); connections opened afterwards plan with them."""
    if db.engine.dialect.name != "sqlite":
        return None
    db.session.execute(text("PRAGMA analysis_limit=1000"))
    db.session.execute(text("ANALYZE"))
    return "sampled SQLite planner statistics"
