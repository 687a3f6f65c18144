"""Drift of the champion's inputs and scores: its recent predictions against a profile of its training data.

Training stores a reference profile next to each model (:func:`write_reference_profile`): per feature the cut
points of quantile bins over the training period and the share of rows in each bin (missing values in a bin of
their own), and the same for the model's scores on the test period. :func:`check_drift` bins the champion's recent
rows of ``ml.predictions`` with those cut points and compares the shares with the population stability index
(PSI), so it never rebuilds the training set. A judged check appends one row per feature, and one for the score,
to ``ops.drift`` and stores a PNG next to the champion's artifacts.

The lake's clock is data time: "recent" is a window ending at the newest logged transaction, not at wall time.
"""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
from pyiceberg.catalog import Catalog
from pyiceberg.schema import Schema
from pyiceberg.types import BooleanType, DoubleType, LongType, NestedField, StringType, TimestamptzType

from lake.appends import append_rows
from lake.catalog import create_lake_table, load_catalog
from lake.errors import ModelsError
from lake.settings import Settings, get_settings
from models.drift_plot import render_drift_plot
from models.registry import ModelVersion, get_model_version, read_artifact, resolve_alias, write_artifact

PROFILE_FILE = "reference_profile.json"
"""The reference profile, one per model version, next to its ``model.json``."""
PREDICTIONS_TABLE = "ml.predictions"
"""Written by the scoring service; read here by name (``models`` never imports ``serving``)."""
DRIFT_TABLE = "ops.drift"
SCORE = "fraud_probability"
"""Name of the score's row in ``ops.drift``: the ``ml.predictions`` column it is read from."""
EPSILON = 1e-4
"""Share given to an empty bin, so the PSI's logarithm stays finite."""

_DRIFT_SCHEMA = Schema(
    NestedField(1, "run_id", StringType(), required=True),
    NestedField(2, "checked_at", TimestamptzType(), required=True),
    NestedField(3, "as_of", TimestamptzType(), required=True),
    NestedField(4, "model_version", LongType(), required=True),
    NestedField(5, "feature", StringType(), required=True),
    NestedField(6, "psi", DoubleType(), required=True),
    NestedField(7, "threshold", DoubleType(), required=True),
    NestedField(8, "drifted", BooleanType(), required=True),
    NestedField(9, "prediction_count", LongType(), required=True),
)


def population_stability_index(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI of two share vectors over the same bins: sum of ``(actual - expected) * ln(actual / expected)``.

    Empty bins count as :data:`EPSILON`, so a bin that only one side fills adds a large but finite term.
    """
    expected, actual = np.maximum(expected, EPSILON), np.maximum(actual, EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _shares(cuts: list[float], values: np.ndarray) -> np.ndarray:
    present = ~np.isnan(values)
    placed = np.searchsorted(np.asarray(cuts), values[present], side="left")
    counts = np.append(np.bincount(placed, minlength=len(cuts) + 1), np.count_nonzero(~present))
    return counts / max(len(values), 1)


@dataclass(frozen=True)
class Bins:
    """Quantile bins of one column and the reference share of rows in each.

    Bin ``i`` holds ``cuts[i-1] < x <= cuts[i]``; one more bin holds values above the last cut and a final one
    missing values, so ``shares`` has ``len(cuts) + 2`` entries.
    """

    cuts: list[float]
    shares: list[float]

    @classmethod
    def fit(cls, values: np.ndarray, bins: int) -> Bins:
        """Cut at the ``bins``-quantiles of the present values (ties merged) and record the shares."""
        present = values[~np.isnan(values)]
        quantiles = np.quantile(present, np.linspace(0.0, 1.0, bins + 1)[1:-1]) if present.size else []
        cuts = [float(cut) for cut in np.unique(quantiles)]
        return cls(cuts, _shares(cuts, values).tolist())

    def shares_of(self, values: np.ndarray) -> np.ndarray:
        """Share of ``values`` in each bin (missing last)."""
        return _shares(self.cuts, values)

    def psi(self, values: np.ndarray) -> float:
        """PSI of ``values`` against the reference shares."""
        return population_stability_index(np.asarray(self.shares), self.shares_of(values))


@dataclass(frozen=True)
class ReferenceProfile:
    """What drift is measured against: the training period's features and the test period's scores, binned."""

    features: dict[str, Bins]
    score: Bins
    training_rows: int
    score_rows: int

    @classmethod
    def build(cls, training_rows: pd.DataFrame, features: list[str], scores: np.ndarray, bins: int) -> ReferenceProfile:
        """Bin each feature of ``training_rows`` and the ``scores`` into ``bins`` quantile bins."""
        return cls(
            features={name: Bins.fit(training_rows[name].to_numpy(np.float64), bins) for name in features},
            score=Bins.fit(np.asarray(scores, np.float64), bins),
            training_rows=len(training_rows),
            score_rows=len(scores),
        )

    @classmethod
    def from_json(cls, raw: bytes) -> ReferenceProfile:
        """Read a profile written by :func:`write_reference_profile`."""
        data = json.loads(raw)
        return cls(
            features={name: Bins(**bins) for name, bins in data["features"].items()},
            score=Bins(**data["score"]),
            training_rows=data["training_rows"],
            score_rows=data["score_rows"],
        )


def write_reference_profile(
    mv: ModelVersion, training_rows: pd.DataFrame, scores: np.ndarray, settings: Settings
) -> str:
    """Store the reference profile of a version next to its model; returns the file's URI.

    Args:
        mv: the registered version (its features are profiled).
        training_rows: the rows it was trained on.
        scores: its scores on the test period.
        settings: settings to use (``drift.bins`` sets the number of bins).
    """
    profile = ReferenceProfile.build(training_rows, mv.features, scores, settings.drift.bins)
    return write_artifact(settings, mv.artifact_uri, PROFILE_FILE, json.dumps(asdict(profile)).encode())


@dataclass(frozen=True)
class DriftReport:
    """The outcome of one drift check.

    Attributes:
        retrain_due: drift over the threshold, or no reference profile (or no champion) to judge against.
        reason: one line saying why.
        champion_version: the version checked (None without a champion).
        as_of: end of the window of recent predictions (None when there are none).
        prediction_count: the champion's predictions in the window.
        threshold: the PSI threshold applied.
        feature_psi: PSI per feature (empty when not judged).
        score_psi: PSI of the score (None when not judged).
        run_id: id of the check's rows in ``ops.drift`` (None when not judged).
        plot_uri: the check's PNG (None when not judged).
    """

    retrain_due: bool
    reason: str
    champion_version: int | None
    as_of: datetime | None
    prediction_count: int
    threshold: float
    feature_psi: dict[str, float] = field(default_factory=dict)
    score_psi: float | None = None
    run_id: str | None = None
    plot_uri: str | None = None

    @property
    def psi(self) -> dict[str, float]:
        """PSI per feature and, under :data:`SCORE`, of the score (empty when not judged)."""
        return self.feature_psi | ({} if self.score_psi is None else {SCORE: self.score_psi})

    @property
    def drifted(self) -> list[str]:
        """Features (and :data:`SCORE`) whose PSI is over the threshold, worst first."""
        psi = self.psi
        return sorted((name for name, value in psi.items() if value > self.threshold), key=lambda name: -psi[name])


def _read_profile(mv: ModelVersion, settings: Settings) -> ReferenceProfile | None:
    try:
        return ReferenceProfile.from_json(read_artifact(mv, PROFILE_FILE, settings))
    except ModelsError:
        return None


def _recent_predictions(
    catalog: Catalog, version: int, as_of: datetime | None, window: timedelta
) -> tuple[datetime | None, pa.Table]:
    """The version's predictions with ``as_of - window < transaction_at <= as_of``, and that ``as_of``.

    Without ``as_of``, the window ends at the version's newest logged transaction.
    """
    empty = pa.table({SCORE: pa.array([], pa.float64()), "feature_values": pa.array([], pa.string())})
    if not catalog.table_exists(PREDICTIONS_TABLE):
        return as_of, empty
    table = catalog.load_table(PREDICTIONS_TABLE)
    of_version = f"model_version = {int(version)}"
    if as_of is None:
        times = table.scan(row_filter=of_version, selected_fields=("transaction_at",)).to_arrow()["transaction_at"]
        as_of = pc.max(times).as_py()
        if as_of is None:
            return None, empty
    start, end = (as_of - window).isoformat(), as_of.isoformat()
    in_window = f"{of_version} and transaction_at > '{start}' and transaction_at <= '{end}'"
    return as_of, table.scan(row_filter=in_window, selected_fields=(SCORE, "feature_values")).to_arrow()


def _feature_columns(feature_values: pa.ChunkedArray, features: list[str]) -> dict[str, np.ndarray]:
    """Each feature's logged values from the JSON objects, as floats with NaN where missing or absent."""
    schema = pa.schema([(name, pa.float64()) for name in features])
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    parsed = pa_json.read_json(io.BytesIO("\n".join(feature_values.to_pylist()).encode()), parse_options=options)
    return {name: parsed[name].to_numpy(zero_copy_only=False) for name in features}


def _decision(psi: dict[str, float], threshold: float) -> tuple[bool, str]:
    worst = max(psi, key=lambda name: psi[name])
    drifted = [name for name in psi if psi[name] > threshold]
    if not drifted:
        return False, f"no drift: max PSI {psi[worst]:.2f} ({worst})"
    others = f" ({len(drifted)} of {len(psi)} over it: see `lakeforge drift`)" if len(drifted) > 1 else ""
    return True, f"PSI {psi[worst]:.2f} on {worst} > {threshold:g}{others}"


def append_drift_rows(catalog: Catalog, report: DriftReport, checked_at: datetime) -> None:
    """Append one ``ops.drift`` row per feature and one for the score, in one commit."""
    drifted = set(report.drifted)
    rows = [
        {
            "run_id": report.run_id,
            "checked_at": checked_at,
            "as_of": report.as_of,
            "model_version": report.champion_version,
            "feature": name,
            "psi": value,
            "threshold": report.threshold,
            "drifted": name in drifted,
            "prediction_count": report.prediction_count,
        }
        for name, value in report.psi.items()
    ]
    append_rows(create_lake_table(catalog, DRIFT_TABLE, _DRIFT_SCHEMA), rows)


def check_drift(settings: Settings | None = None, as_of: datetime | None = None) -> DriftReport:
    """Compare the champion's recent predictions with its reference profile and decide whether to retrain.

    A judged check appends its PSI values to ``ops.drift`` and writes a PNG next to the champion's artifacts.

    Args:
        settings: settings to use (``drift.*``); default: the process settings.
        as_of: aware end of the window of recent predictions; default: the champion's newest logged transaction.

    Returns:
        The decision, its one-line reason, PSI per feature and for the score, and where the plot is.

    Raises:
        ModelsError: ``as_of`` has no time zone.
    """
    settings = settings or get_settings()
    config = settings.drift
    if as_of is not None and as_of.tzinfo is None:
        raise ModelsError(f"as_of {as_of.isoformat()} has no time zone; pass an aware instant (e.g. UTC)")
    version = resolve_alias("champion", settings)
    if version is None:
        return DriftReport(True, "no champion model yet: train one", None, as_of, 0, config.psi_threshold)
    mv = get_model_version(version, settings=settings)
    profile = _read_profile(mv, settings)
    if profile is None:
        reason = f"no reference profile for v{version}: retrain to create one"
        return DriftReport(True, reason, version, as_of, 0, config.psi_threshold)
    catalog = load_catalog(settings)
    as_of, rows = _recent_predictions(catalog, version, as_of, timedelta(days=config.window_days))
    window = "yet" if as_of is None else f"in the {config.window_days:g} days to {as_of.isoformat()}"
    if as_of is None or rows.num_rows < config.min_predictions:
        reason = f"only {rows.num_rows} predictions of v{version} {window} (need {config.min_predictions})"
        return DriftReport(False, reason, version, as_of, rows.num_rows, config.psi_threshold)

    values = _feature_columns(rows["feature_values"], list(profile.features))
    feature_psi = {name: bins.psi(values[name]) for name, bins in profile.features.items()}
    scores = rows[SCORE].to_numpy()
    score_psi = profile.score.psi(scores)
    retrain_due, reason = _decision(feature_psi | {SCORE: score_psi}, config.psi_threshold)
    run_id = uuid.uuid4().hex
    png = render_drift_plot(
        feature_psi | {SCORE: score_psi},
        config.psi_threshold,
        np.asarray(profile.score.shares[:-1]),
        profile.score.shares_of(scores)[:-1],
        f"Model v{version}: {rows.num_rows} predictions {window}",
    )
    report = DriftReport(
        retrain_due=retrain_due,
        reason=reason,
        champion_version=version,
        as_of=as_of,
        prediction_count=rows.num_rows,
        threshold=config.psi_threshold,
        feature_psi=feature_psi,
        score_psi=score_psi,
        run_id=run_id,
        plot_uri=write_artifact(settings, mv.artifact_uri, f"drift/{as_of:%Y%m%dT%H%M%S}-{run_id[:8]}.png", png),
    )
    append_drift_rows(catalog, report, checked_at=datetime.now(UTC))
    return report
