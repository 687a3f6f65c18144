"""Fixtures for the feature repo: small dbt-shaped feature tables in the test's catalog."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from feast import FeatureStore
from pyiceberg.catalog import Catalog

from lake.feast.environment import apply_feature_repo, open_feature_store
from lake.feast.synthetic import SyntheticSpan, write_synthetic_feature_table
from lake.settings import Settings

SPANS = {
    "card_features": SyntheticSpan(rows=300, entities=120, days=5, seed=1),
    "merchant_features": SyntheticSpan(rows=80, entities=20, days=5, seed=2),
    "customer_features": SyntheticSpan(rows=80, entities=20, days=5, seed=3),
}


def write_feature_tables(catalog: Catalog) -> dict[str, pd.DataFrame]:
    """The three ``features.*`` tables the repo's sources read, as pandas frames."""
    return {name: write_synthetic_feature_table(catalog, name, span).to_pandas() for name, span in SPANS.items()}


def applied_feature_repo(
    settings: Settings, catalog: Catalog
) -> tuple[FeatureStore, dict[str, pd.DataFrame], datetime]:
    """The feature tables written and ``feature_repo/`` applied: its store, the tables, and a time just after their
    last row (an end for materialization)."""
    tables = write_feature_tables(catalog)
    end = max(table["feature_timestamp"].max() for table in tables.values()).to_pydatetime() + timedelta(seconds=1)
    apply_feature_repo(settings)
    return open_feature_store(settings), tables, end


@pytest.fixture
def feature_tables(catalog: Catalog) -> dict[str, pd.DataFrame]:
    """The feature tables in the embedded catalog of the test."""
    return write_feature_tables(catalog)
