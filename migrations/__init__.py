"""Alembic environment for questlog."""
