"""Alembic migrations of rolebridge's schema (run with ``rolebridge db upgrade``)."""
