"""PostgreSQL's planner statistics kept in step with an org that grows by SCIM writes.

A SCIM write reads a few rows of one org by key (docs/architecture.md section 3.1), and
PostgreSQL chooses the index for each lookup from its statistics of ``org_id``. Taken
while an org was empty (a first push into a new org of a database holding few orgs),
they say the org has no rows: every index that starts with ``org_id`` then costs the
same, and the planner may read the org's rows through one whose next column is not the
key, filtering them. A write then costs what the org holds, and a first push slows with
the square of its size. Autovacuum analyses a table once a tenth of its rows changed,
but only when it is on, every ``autovacuum_naptime``, and behind whatever else it does.

``StatisticsKeeper`` applies autovacuum's own rule for analysing (``n_mod_since_analyze``
past 50 rows plus 10% of the table) to the tables a SCIM write reads, checked once per
``every`` committed writes of the process and at most once per ``interval`` (the server's
counts of changed rows lag by up to a second), after the
write committed and outside the org's lock; a table past the rule is analysed then (a
sample of at most 30,000 rows, so its cost does not grow with the table). ``ANALYZE``
blocks no reader or writer; a role that does not own the tables gets the server's
warning and nothing else, and any failure is logged, never raised into the write.
After a pull that changed the mirror, ``after_bulk`` asks the same rule of the rows the
pull wrote, table by table (an org's first pull writes it whole in one transaction, and
the server's counts of a backend's changes arrive up to a second after it committed).
SQLite plans without statistics of this kind: the keeper does nothing there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from sqlalchemy import Connection, Engine, text

__all__ = ["HOT_TABLES", "StatisticsKeeper"]

HOT_TABLES = (
    "directory_users",
    "directory_groups",
    "directory_memberships",
    "members",
    "workspace_roles",
    "audit_log",
    "plans",
)
"""The tables a SCIM write looks rows up in by key within an org."""

_log = logging.getLogger("rolebridge.db")

# autovacuum's defaults (autovacuum_analyze_threshold, autovacuum_analyze_scale_factor)
_STALE = text(
    "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
    " WHERE s.relname = ANY(:tables) AND s.schemaname = current_schema()"
    " AND s.n_mod_since_analyze > 50 + 0.1 * GREATEST(c.reltuples, 0)"
    " ORDER BY s.relname"
)


class StatisticsKeeper:
    """Analyses the hot tables that changed past autovacuum's rule, now and then."""

    def __init__(self, engine: Engine, *, every: int = 50, interval: float = 2.0) -> None:
        self.engine = engine
        self.every = every
        self.interval = interval
        self.enabled = engine.dialect.name == "postgresql"
        self._writes = 0
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def wrote(self) -> list[str]:
        """Count one committed write; every ``every`` writes (and ``interval`` seconds at
        least), analyse the tables past the rule. The tables analysed, if any."""
        if not self.enabled:
            return []
        with self._lock:
            self._writes += 1
            due = self._writes >= self.every
            if due and time.monotonic() - self._checked >= self.interval:
                self._writes = 0
                self._checked = time.monotonic()
            else:
                return []
        return self.check()

    def after_bulk(self, changed: Mapping[str, int]) -> list[str]:
        """After one write of ``changed`` rows per table (a pull's): analyse the hot tables
        for which their own count is past the rule. The write's own counts, not the
        server's: a backend reports its counts up to a second after it committed."""
        wrote = {t: n for t, n in changed.items() if t in HOT_TABLES and n > 50}
        if not self.enabled or not wrote:
            return []
        sizes = text(
            "SELECT relname, reltuples FROM pg_class WHERE relname = ANY(:tables)"
            " AND relnamespace = current_schema()::regnamespace ORDER BY relname"
        )
        return self._analyse(
            lambda connection: [
                table
                for table, tuples in connection.execute(sizes, {"tables": sorted(wrote)})
                if wrote[table] > 50 + 0.1 * max(tuples, 0)
            ]
        )

    def check(self) -> list[str]:
        """Analyse the hot tables past the rule now; the tables analysed."""
        if not self.enabled:
            return []
        return self._analyse(
            lambda connection: list(connection.scalars(_STALE, {"tables": list(HOT_TABLES)}))
        )

    def _analyse(self, stale_tables: Callable[[Connection], list[str]]) -> list[str]:
        try:
            with self.engine.connect() as connection:
                stale = stale_tables(connection)
                connection.commit()
                for table in stale:  # names from HOT_TABLES only
                    connection.execute(text(f'ANALYZE "{table}"'))
                    connection.commit()
        except Exception as exc:
            # statistics are an optimisation: a failure must not fail the write it follows
            # (a role that does not own a table gets a warning from the server, not this)
            _log.warning("could not refresh the planner's statistics: %s", type(exc).__name__)
            return []
        if stale:
            _log.info("planner statistics refreshed: %s", ", ".join(stale))
        return stale
