"""Projectors, one module per read model."""
