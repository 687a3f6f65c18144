"""One exception type per area, so a user's mistake never surfaces as a dependency's traceback.

The CLI prints any :class:`LakeforgeError` as a one-line message and exits non-zero.
"""


class LakeforgeError(Exception):
    """A problem the user can fix; its message says what was wrong and what to do."""


class ConfigError(LakeforgeError):
    """A setting (environment variable or file) has a value Lakeforge cannot use."""


class CatalogError(LakeforgeError):
    """The Iceberg catalog cannot be reached, or a table or snapshot does not exist."""


class ContractError(LakeforgeError):
    """A table contract is malformed, or data breaks a contract in a way no row-level quarantine can hold."""


class IngestError(LakeforgeError):
    """An ingestion request cannot be carried out (missing path, unknown table, unreadable format)."""


class SqlEndpointError(LakeforgeError):
    """The SQL endpoint cannot serve: a bad rules, password or group file, or a query it must refuse."""


class TransformError(LakeforgeError):
    """A dbt transform cannot write or publish a model (bad strategy or key, incompatible schema, failed run)."""


class GenerateError(LakeforgeError):
    """A request to the synthetic data generator has a bad size, day, seed, format or output folder."""


class FeaturesError(LakeforgeError):
    """A feature-store request cannot be served (bad entity frame, unknown view, materialization out of order)."""


class ModelsError(LakeforgeError):
    """A training, evaluation or model-registry request cannot be carried out (no data, unknown version or alias)."""


class ScoringError(LakeforgeError):
    """The scoring service cannot start or answer: no champion model, no feature store, a bad service option."""


class PipelineError(LakeforgeError):
    """A cycle cannot start: another one is running on the same lake, or its lock cannot be taken."""
