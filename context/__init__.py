"""Persistence: the ``cti.ports.ContextStore`` on SQLAlchemy 2 (async) with Alembic migrations.

``store.SqlContextStore`` is the facade the app wires; ``migrate.upgrade(url)`` (``cti db
upgrade``) brings a database to the latest schema. Inside: ``models`` (the schema), ``db`` (engine
and transactions), ``customers`` and ``merging`` (resolution, links, merges and their undoing),
``interactions`` (snapshots, messages, notes), ``timeline`` (the unified history), ``audit``.
"""
