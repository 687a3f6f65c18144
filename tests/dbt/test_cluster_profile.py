"""The dbt project's `cluster` target: the same models written through the PostgreSQL catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyiceberg.catalog import Catalog

from lake.catalog import load_catalog
from lake.dbt_runner import run_dbt
from lake.settings import Settings
from tests.dbt.conftest import CARDS, land_days

pytestmark = pytest.mark.postgres


def test_cluster_target_builds_into_the_postgresql_catalog(
    cluster_settings: Settings, cluster_catalog: Catalog, tmp_path: Path
) -> None:
    land_days(cluster_catalog, range(1))

    selection = ["--select", "+dim_cards", "--indirect-selection", "cautious"]
    run = run_dbt(["build", *selection, "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path)])

    assert run.success
    assert cluster_settings.catalog.uri is not None and cluster_settings.catalog.uri.startswith("postgresql")
    reopened = load_catalog(cluster_settings)
    dim_cards = reopened.load_table("curated.dim_cards")
    assert dim_cards.current_snapshot().summary["dbt.invocation-id"] == run.invocation_id
    assert dim_cards.scan().to_arrow().num_rows == len(CARDS)
