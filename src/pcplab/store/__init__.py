"""pcplab.store: the SQLite results database."""

from pcplab.store.db import Run, Store, default_db_path, run_key

__all__ = ["Run", "Store", "default_db_path", "run_key"]
