"""tureen's SQL store, beneath both tracking and the model registry: MLflow 3.17's own database schema.

``tureen.store.sql.SqlStore`` serves ``sqlite://``, ``postgresql://`` and ``mysql://`` URIs (registered in
:mod:`tureen.tracking.stores`). Importing this package imports nothing heavy; SQLAlchemy loads with the store.
"""
