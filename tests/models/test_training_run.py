"""One training run end to end on Ray: Feast training set, registry, report and plots, gate, reproduction."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import pytest
import ray
from pyiceberg.catalog import Catalog

from lake.errors import ModelsError
from lake.settings import Settings
from models.plots import PLOTS
from models.registry import get_model_version, list_model_versions, read_artifact
from models.train import BoostingPlan
from models.training_run import train_and_register
from tests.models.conftest import FraudLake, append_fraud_rows, fraud_rows

CUTOFF = datetime(2026, 2, 25, tzinfo=UTC)
"""After every chargeback of January was reported: each period has its labels."""
PLAN = BoostingPlan(num_boost_round=40, early_stopping_rounds=5, verbose_every=5)


def _worker_log_lines(text: str) -> list[str]:
    """The lines holding ``text`` in the output files of the running Ray instance's workers."""
    logs = Path(ray._private.worker._global_node.get_logs_dir_path())
    files = [*logs.glob("worker-*.err"), *logs.glob("worker-*.out")]
    assert files, f"no worker output under {logs}"
    return [line for file in files for line in file.read_text(errors="replace").splitlines() if text in line]


@pytest.mark.ray
@pytest.mark.slow
def test_train_register_gate_and_reproduce(
    ray_session: None, settings: Settings, catalog: Catalog, fraud_lake: FraudLake, recwarn: pytest.WarningsRecorder
) -> None:
    first = train_and_register(cutoff=CUTOFF, workers=2, plan=PLAN, settings=settings)
    ray_data_warnings = [str(w.message) for w in recwarn if w.filename.endswith(str(Path("ray", "data", "context.py")))]
    assert ray_data_warnings == []  # Ray Train copying Ray Data's context: nothing a user can act on
    # Ray Train's cluster-only helpers stay quiet on the local instance (models.local_ray)
    assert _worker_log_lines("Failed to query Ray Train Controller") == []
    assert _worker_log_lines("PreemptionWatcher") == []
    mv = first.model_version
    assert first.decision.alias == "champion" and mv.aliases == ["champion"]
    assert mv.params["workers"] == 2 and mv.params["xgboost"]["scale_pos_weight"] > 10
    assert mv.metrics["pr_auc"] > 2 * mv.metrics["baseline_pr_auc"]
    assert mv.lineage["row_count"] == 3_000 and len(mv.lineage["content_hash"]) == 64
    assert set(mv.lineage["snapshots"]) >= {"curated.fct_chargebacks", "features.card_features"}
    report = read_artifact(mv, "report.md", settings).decode()
    folder = Path(urlparse(mv.artifact_uri).path)
    for file in PLOTS.values():
        assert f"]({file})" in report
        assert (folder / file).read_bytes().startswith(b"\x89PNG")

    append_fraud_rows(catalog, fraud_rows(400, seed=21, days=25, first_id=50_000))
    again = train_and_register(reproduce=mv.version, margin=1.0, workers=2, settings=settings)
    copy = again.model_version
    assert copy.lineage["content_hash"] == mv.lineage["content_hash"]
    assert copy.lineage["reproduces"] == mv.version
    assert again.decision.alias == "challenger" and "below the margin 1.0" in again.decision.reason
    assert get_model_version(settings=settings).version == mv.version
    assert [version.aliases for version in list_model_versions(settings)] == [["champion"], ["challenger"]]
    with pytest.raises(ModelsError, match="exclude each other"):
        train_and_register(cutoff=CUTOFF, reproduce=mv.version, settings=settings)
