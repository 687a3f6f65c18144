"""The champion model, swapped in place when the registry's ``champion`` alias moves.

Scoring takes one :class:`LoadedModel` reference per batch, so a swap never mixes two versions inside a batch
and never interrupts a request: the new booster is loaded beside the old one and replaces it in one assignment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import xgboost

from lake.errors import LakeforgeError, ScoringError
from lake.settings import Settings
from models.registry import ModelVersion, get_model_version, load_booster, resolve_alias

log = logging.getLogger(__name__)

CHAMPION = "champion"


@dataclass(frozen=True)
class Prediction:
    """Fraud probabilities of a batch and each feature's contribution (log-odds; last column: the bias)."""

    probabilities: np.ndarray
    contributions: np.ndarray


@dataclass(frozen=True)
class LoadedModel:
    """A registered version with its booster in memory."""

    version: ModelVersion
    booster: xgboost.Booster

    def predict(self, matrix: np.ndarray) -> Prediction:
        """Score rows whose columns are ``version.features`` in order (NaN: missing, handled by the trees)."""
        data = xgboost.DMatrix(matrix, feature_names=self.version.features, missing=np.nan, nthread=1)
        return Prediction(
            probabilities=self.booster.predict(data),
            contributions=self.booster.predict(data, pred_contribs=True),
        )


def load_model(version: int, feature_service: str, settings: Settings) -> LoadedModel:
    """Read one version and its booster from the registry (single-threaded predictions: batches are small).

    Raises:
        ScoringError: the version reads another feature service than the one being served.
    """
    mv = get_model_version(version, settings=settings)
    if mv.feature_service != feature_service:
        raise ScoringError(
            f"model version {version} reads feature service {mv.feature_service!r} but this service looks up "
            f"{feature_service!r}; deploy a scoring service for {mv.feature_service!r} before promoting it"
        )
    booster = load_booster(mv, settings)
    booster.set_param({"nthread": 1})
    return LoadedModel(version=mv, booster=booster)


class ChampionModel:
    """Holds the current champion; :meth:`refresh` follows the alias."""

    def __init__(self, settings: Settings, feature_service: str) -> None:
        """Load the champion if there is one (the service reports not-ready until there is).

        Args:
            settings: where the registry lives.
            feature_service: the Feast feature service being looked up; a champion reading another is refused.
        """
        self._settings = settings
        self._feature_service = feature_service
        self._current: LoadedModel | None = None
        self.problem: str | None = None
        self.refresh()

    @property
    def current(self) -> LoadedModel:
        """The model to score with now.

        Raises:
            ScoringError: no champion could be loaded yet; the message says why.
        """
        loaded = self._current
        if loaded is None:
            raise ScoringError(self.problem or "no champion model loaded yet")
        return loaded

    @property
    def version(self) -> int | None:
        """Version number of the loaded champion, if any."""
        return self._current.version.version if self._current else None

    def refresh(self) -> bool:
        """Load the version the champion alias points at, if it changed; keep serving the old one on failure.

        Returns:
            True when a different version was swapped in.
        """
        try:
            wanted = resolve_alias(CHAMPION, self._settings)
            if wanted is None:
                raise ScoringError("no model version is champion yet; register one and promote it to champion")
            if wanted == self.version:
                return False
            loaded = load_model(wanted, self._feature_service, self._settings)
        except LakeforgeError as error:
            self.problem = str(error)
            log.warning("champion not refreshed: %s", error)
            return False
        previous, self._current, self.problem = self.version, loaded, None
        log.warning("champion model switched from version %s to %s", previous, wanted)
        return True
