"""Feast on the lake: the profile's Feast environment, the DuckDB-over-Iceberg offline store, materialization.

The ML engineers' repo lives in ``feature_repo/``; this package is how it reaches the lake (ARCHITECTURE.md).
"""
