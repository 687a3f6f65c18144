"""Operated cycles on a small generated lake: a first full cycle, one more day, a cycle with nothing to do, and a
transform that fails for real (a transaction of a card the lake does not know), is rolled back and then resumed.

The cycles run once for the module (they cost minutes); each test checks one part of what they did.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog import Catalog
from rich.console import Console

from lake.catalog import load_catalog
from lake.contracts import get_contract
from lake.dbt_runner import MODEL_NAMESPACES
from lake.generate import write_landing_files
from lake.ingest import ingest_path
from lake.pipeline import FAILED, RAN, RESUMED_PAST, RUNS_TABLE, SKIPPED, tables_in
from lake.settings import Settings, load_settings
from models.cycle import CycleReport, lake_clock, run_cycle
from models.registry import get_model_version, resolve_alias
from tests.conftest import clean_environment
from tests.test_cli import run_cli

ROWS, DAYS, SEED = 8_000, 22, 5
"""Generated period; the first cycle lands days 0-19, the second day 20."""
ORPHAN = "tx_orphan"


@dataclass(frozen=True)
class Cycles:
    """The module's lake and every cycle run on it, with what the tables held around the failed one."""

    settings: Settings
    catalog: Catalog
    landing: Path
    first: CycleReport
    second: CycleReport
    third: CycleReport
    failed: CycleReport
    resumed: CycleReport
    printed: dict[str, str]
    published_before_third: dict[str, int | None]
    published_after_third: dict[str, int | None]
    built_before_failure: dict[str, int | None]
    built_after_failure: dict[str, int | None]
    raw_ids_after_failure: set[str]
    raw_rows_after_first: int
    transactions_after_second: tuple[int, int]
    """Rows of ``curated.fct_transactions`` and ``raw.transactions`` after the second cycle."""


def published(
    catalog: Catalog, scope: tuple[str, ...] = ("raw", "staging", "curated", "features", "ml", "ops")
) -> dict[str, int | None]:
    return {name: catalog.load_table(name).metadata.current_snapshot_id for name in tables_in(catalog, scope)}


def rows_of(catalog: Catalog, name: str) -> int:
    return catalog.load_table(name).scan().to_arrow().num_rows


def land_orphan_transaction(catalog: Catalog, landing: Path) -> None:
    """A valid transaction (it passes ingestion) of a card no ``cards`` file ever named: dbt's tests refuse it."""
    merchant = catalog.load_table("raw.merchants").scan(limit=1).to_arrow()["merchant_id"][0].as_py()
    row = {
        "transaction_id": ORPHAN,
        "card_id": "ca_unknown",
        "merchant_id": merchant,
        "amount_cents": 4_250,
        "currency": "EUR",
        "channel": "online",
        "lat": None,
        "lon": None,
        "transaction_at": datetime(2026, 1, 22, 10, tzinfo=UTC),
    }
    schema = get_contract("transactions").arrow_schema()
    pq.write_table(pa.Table.from_pylist([row], schema=schema), landing / "transactions-late.parquet")


def ingest_missing_card(catalog: Catalog, folder: Path, settings: Settings) -> None:
    """What the operator does about it: land the card with ``lakeforge ingest`` (outside the cycle)."""
    card = catalog.load_table("raw.cards").scan(limit=1).to_arrow().to_pylist()[0]
    card.update(card_id="ca_unknown", card_number="4000999988887777")
    folder.mkdir()
    pq.write_table(
        pa.Table.from_pylist([card], schema=get_contract("cards").arrow_schema()), folder / "cards-late.parquet"
    )
    assert ingest_path(folder, settings=settings).rows_appended == 1


@pytest.fixture(scope="module")
def cycles(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cycles]:
    work = tmp_path_factory.mktemp("cycle")
    landing = work / "landing"
    with clean_environment(work / "home") as patch:
        # 20 days of data: labels of the last 5 days are mostly still to come, and every period keeps fraud labels
        patch.setenv("LAKEFORGE_PIPELINE__LABEL_MATURITY_DAYS", "5")
        patch.setenv("DBT_TARGET_PATH", str(work / "dbt-target"))  # keep dbt's output out of the shared checkout
        patch.setenv("DBT_LOG_PATH", str(work / "dbt-logs"))
        settings = load_settings()
        catalog = load_catalog(settings)
        printed: dict[str, str] = {}

        def cycle(name: str) -> CycleReport:
            output = io.StringIO()
            report = run_cycle(settings, landing, console=Console(file=output, width=200), workers=2)
            printed[name] = output.getvalue()
            return report

        for day in range(DAYS - 2):
            write_landing_files(landing, rows=ROWS, days=DAYS, seed=SEED, start_day=day)
        first = cycle("first")
        raw_rows = sum(rows_of(catalog, name) for name in tables_in(catalog, ("raw",)))
        write_landing_files(landing, rows=ROWS, days=DAYS, seed=SEED, start_day=DAYS - 2)
        second = cycle("second")
        transactions = (rows_of(catalog, "curated.fct_transactions"), rows_of(catalog, "raw.transactions"))
        published_before_third = published(catalog)
        third = cycle("third")
        published_after_third = published(catalog)

        land_orphan_transaction(catalog, landing)
        built_before_failure = published(catalog, MODEL_NAMESPACES)
        failed = cycle("failed")
        built_after_failure = published(catalog, MODEL_NAMESPACES)
        raw_ids = set(catalog.load_table("raw.transactions").scan().to_arrow()["transaction_id"].to_pylist())
        ingest_missing_card(catalog, work / "fix", settings)
        resumed = cycle("resumed")
        yield Cycles(
            settings,
            catalog,
            landing,
            first,
            second,
            third,
            failed,
            resumed,
            printed,
            published_before_third,
            published_after_third,
            built_before_failure,
            built_after_failure,
            raw_ids,
            raw_rows,
            transactions,
        )


def statuses(report: CycleReport) -> dict[str, str]:
    return {record.step: record.status for record in report.records}


@pytest.mark.ray
@pytest.mark.slow
def test_the_first_cycle_builds_every_layer_and_promotes_a_champion(cycles: Cycles) -> None:
    first, catalog = cycles.first, cycles.catalog
    assert first.ok and first.run_id == 1
    assert statuses(first) == {"ingest": RAN, "transform": RAN, "features": RAN, "drift": SKIPPED, "train": RAN}
    assert first.step("ingest").rows == cycles.raw_rows_after_first > ROWS * 0.8
    assert {"raw.transactions", "ops.ingest_batches"} <= set(first.step("ingest").snapshots)
    assert {"curated.fct_transactions", "features.card_features"} <= set(first.step("transform").snapshots)
    assert first.step("drift").detail == "no champion yet"

    newest = pc.max(catalog.load_table("raw.transactions").scan().to_arrow()["transaction_at"]).as_py()
    assert first.as_of is not None and first.as_of.date().isoformat() == "2026-01-20"
    assert first.step("features").detail.startswith("3 view(s) materialized up to 2026-01-20")
    champion = get_model_version(settings=cycles.settings)
    assert champion.version == resolve_alias("champion", cycles.settings) == 1
    assert datetime.fromisoformat(champion.lineage["cutoff"]) == first.as_of
    assert first.step("train").rows == champion.lineage["row_count"] > 0
    assert first.step("train").detail == (
        "v1 is champion: there is no champion yet; scoring services switch to v1 within a few seconds"
    )
    assert set(first.step("train").snapshots) == {"ml.model_versions", "ml.model_aliases"}
    assert lake_clock(catalog) == newest, "the clock read from file metadata is the newest transaction"

    lines = cycles.printed["first"].splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith("> ")] == [
        "> ingest",
        "> transform",
        "> features",
        "> drift",
        "> train",
    ]
    assert "  skipped: no champion yet" in lines


@pytest.mark.ray
@pytest.mark.slow
def test_one_more_day_is_built_incrementally_and_the_fresh_champion_kept(cycles: Cycles) -> None:
    second = cycles.second
    assert second.ok and second.run_id == 2
    assert statuses(second) == {"ingest": RAN, "transform": RAN, "features": RAN, "drift": SKIPPED, "train": SKIPPED}
    assert second.step("ingest").detail.endswith("0 quarantined")
    assert second.as_of is not None and second.as_of.date().isoformat() == "2026-01-21"
    assert second.step("drift").detail.startswith("not judged: only 0 predictions of v1 in the 7 days to 2026-01-21")
    assert re.fullmatch(
        r"champion v1 is 1\.\d days old in data time \(retrain every 7\) and drift calls for none",
        second.step("train").detail,
    )
    assert resolve_alias("champion", cycles.settings) == 1
    curated, raw = cycles.transactions_after_second
    assert curated == raw > cycles.first.step("ingest").rows * 0.5, "the new day reached curated, nothing doubled"


@pytest.mark.ray
@pytest.mark.slow
def test_a_cycle_with_nothing_new_skips_every_step_and_changes_nothing(cycles: Cycles) -> None:
    third = cycles.third
    assert third.ok and statuses(third) == dict.fromkeys(("ingest", "transform", "features", "drift", "train"), SKIPPED)
    assert [record.detail for record in third.records[:3]] == [
        f"no new files in {cycles.landing}",
        "raw tables unchanged since run 2",
        "feature tables unchanged since run 2",
    ]
    assert all(record.snapshots == {} and record.rows == 0 for record in third.records)
    changed = {
        name
        for name, snapshot in cycles.published_after_third.items()
        if cycles.published_before_third.get(name) != snapshot
    }
    assert changed == set()


@pytest.mark.ray
@pytest.mark.slow
def test_a_failed_transform_is_rolled_back_and_the_next_cycle_resumes_there(cycles: Cycles) -> None:
    failed, resumed, catalog = cycles.failed, cycles.resumed, cycles.catalog
    assert [(record.step, record.status) for record in failed.records] == [("ingest", RAN), ("transform", FAILED)]
    transform = failed.failed
    assert transform is not None and transform.step == "transform"
    assert transform.error.startswith("dbt build failed: relationships_stg_payments__transactions_card_id")
    assert re.fullmatch(r"rolled back [1-9]\d* table\(s\)", transform.detail)
    assert ORPHAN in cycles.raw_ids_after_failure, "raw, published by the ingest step, stays published"
    assert cycles.built_after_failure == cycles.built_before_failure, "no half-published layer"
    assert "  failed after" in cycles.printed["failed"]

    assert resumed.ok and resumed.run.resumed_from == failed.run_id
    first = resumed.records[0]
    assert (first.step, first.status, first.detail) == ("ingest", RESUMED_PAST, f"done in run {failed.run_id}")
    assert statuses(resumed) == {
        "ingest": RESUMED_PAST,
        "transform": RAN,
        "features": RAN,
        "drift": SKIPPED,
        "train": SKIPPED,
    }
    transactions = catalog.load_table("curated.fct_transactions").scan().to_arrow()["transaction_id"]
    assert ORPHAN in transactions.to_pylist()
    assert len(transactions) == rows_of(catalog, "raw.transactions"), "rebuilt incrementally, nothing lost or doubled"

    logged = (
        catalog.load_table(RUNS_TABLE).scan().to_arrow().sort_by([("run_id", "ascending"), ("position", "ascending")])
    )
    by_run = [
        (row["run_id"], row["step"], row["status"])
        for row in logged.to_pylist()
        if row["run_id"] in (failed.run_id, resumed.run_id)
    ]
    assert by_run == [
        (4, "ingest", RAN),
        (4, "transform", FAILED),
        (5, "ingest", RESUMED_PAST),
        (5, "transform", RAN),
        (5, "features", RAN),
        (5, "drift", SKIPPED),
        (5, "train", SKIPPED),
    ]


@pytest.mark.ray
@pytest.mark.slow
def test_history_lists_the_runs(cycles: Cycles) -> None:
    shown = run_cli("run", "--history", env_home=cycles.settings.home)
    assert shown.returncode == 0, shown.stderr
    lines = {line.split("│")[1].strip(): line for line in shown.stdout.splitlines() if re.match(r"│\s+\d+\s+│", line)}
    assert set(lines) == {"1", "2", "3", "4", "5"}
    assert "failed at transform" in lines["4"] and "ok, resumed run 4" in lines["5"]
    assert "ingest, transform, features, train" in lines["1"] and "none (nothing to do)" in lines["3"]


def test_the_command_exits_1_on_a_failed_step_and_says_where_it_resumes(settings: Settings, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "transactions-cut.jsonl").write_text('{"transaction_id": "t1", "card_')

    shown = run_cli("run", "--landing", str(landing), env_home=settings.home)

    assert shown.returncode == 1, shown.stderr
    assert "landing file(s) rejected (transactions-cut.jsonl:" in shown.stdout
    assert "recorded as run 1 in ops.pipeline_runs" in shown.stdout
    assert "the next `lakeforge run` resumes from ingest" in shown.stdout
    assert not load_catalog(settings).table_exists("raw.transactions")

    again = run_cli("run", "--as-of", "last tuesday", env_home=settings.home)
    assert again.returncode == 1 and again.stderr.startswith("error: --as-of 'last tuesday' is not an ISO date")
