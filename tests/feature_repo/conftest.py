"""Fixtures for the feature repo: small dbt-shaped feature tables in the test's catalog."""

from __future__ import annotations

import pandas as pd
import pytest
from pyiceberg.catalog import Catalog

from lake.feast.synthetic import SyntheticSpan, write_synthetic_feature_table

SPANS = {
    "card_features": SyntheticSpan(rows=300, entities=120, days=5, seed=1),
    "merchant_features": SyntheticSpan(rows=80, entities=20, days=5, seed=2),
    "customer_features": SyntheticSpan(rows=80, entities=20, days=5, seed=3),
}


def write_feature_tables(catalog: Catalog) -> dict[str, pd.DataFrame]:
    """The three ``features.*`` tables the repo's sources read, as pandas frames."""
    return {name: write_synthetic_feature_table(catalog, name, span).to_pandas() for name, span in SPANS.items()}


@pytest.fixture
def feature_tables(catalog: Catalog) -> dict[str, pd.DataFrame]:
    """The feature tables in the embedded catalog of the test."""
    return write_feature_tables(catalog)
