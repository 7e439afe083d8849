"""Versioned schema migrations (alembic) of the tracking and registry SQL store.

The store runs these itself when it opens a database of an older schema (see ``stores/_migrate.py``);
nothing needs an ``alembic.ini``. Revisions are numbered ``0001``, ``0002``, … and never edited once
released: a schema change is a new revision plus the matching change in ``stores/_schema.py``.
"""
