"""The local store: SQLite (WAL) through sqlite-utils."""
