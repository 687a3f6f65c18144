"""The dbt project's `cluster` target: the same models written through the PostgreSQL catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyiceberg.catalog import Catalog

from lake.catalog import load_catalog
from lake.dbt_runner import DbtRun, run_dbt
from lake.settings import Settings
from tests.dbt.conftest import CARDS, TRANSACTIONS_PER_DAY, land_days

pytestmark = pytest.mark.postgres


def _build(selection: str, work: Path) -> DbtRun:
    """``dbt build`` of ``selection`` only (tests of models left out of it are skipped)."""
    selected = ["--select", selection, "--indirect-selection", "cautious"]
    return run_dbt(["build", *selected, "--target-path", str(work / "target"), "--log-path", str(work)])


def test_cluster_target_builds_into_the_postgresql_catalog(
    cluster_settings: Settings, cluster_catalog: Catalog, tmp_path: Path
) -> None:
    land_days(cluster_catalog, range(1))

    run = _build("+dim_cards", tmp_path)

    assert run.success
    assert cluster_settings.catalog.uri is not None and cluster_settings.catalog.uri.startswith("postgresql")
    reopened = load_catalog(cluster_settings)
    dim_cards = reopened.load_table("curated.dim_cards")
    assert dim_cards.current_snapshot().summary["dbt.invocation-id"] == run.invocation_id
    assert dim_cards.scan().to_arrow().num_rows == len(CARDS)


@pytest.mark.redis
def test_an_incremental_build_on_s3_tests_the_files_it_added(cluster_s3_settings: Settings, tmp_path: Path) -> None:
    catalog = load_catalog(cluster_s3_settings)
    land_days(catalog, range(1))
    assert _build("stg_payments__transactions", tmp_path).success
    land_days(catalog, range(1, 2))

    run = _build("stg_payments__transactions", tmp_path)

    assert run.success
    tests = [result.node for result in run.result.result.results if result.node.resource_type == "test"]  # type: ignore[union-attr]
    assert tests and all("read_parquet(['s3://" in (node.compiled_code or "") for node in tests)
    published = catalog.load_table("staging.stg_payments__transactions").scan().to_arrow()
    assert published.num_rows == 2 * TRANSACTIONS_PER_DAY
