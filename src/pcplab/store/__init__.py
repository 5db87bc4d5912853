"""pcplab.store: the SQLite results database (one row per run, keyed by its parameters)."""

from pcplab.store.db import Run, Store, default_db_path, run_key

__all__ = ["Run", "Store", "default_db_path", "run_key"]
