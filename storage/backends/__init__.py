"""Backends behind `storage.backend.Backend`: Postgres, SQLite and memory."""
