"""Trino's file-based access-control rules: who may see which catalogs, schemas, tables and columns.

The file has Trino's format (``catalogs``, ``schemas`` and ``tables`` rule lists; the first rule whose ``user``,
``group``, ``catalog``, ``schema`` and ``table`` regular expressions all match decides; no match denies; a
missing list allows everything at that level), so one file governs both this endpoint and a real Trino.
Table rules carry privileges, column rules (``allow: false`` hides a column; ``mask`` replaces its values with
a SQL expression) and a row ``filter``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lake.errors import SqlEndpointError

Privilege = Literal["SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP", "GRANT_SELECT"]


@dataclass(frozen=True)
class Identity:
    """An authenticated user and the groups the group file puts them in."""

    user: str
    groups: frozenset[str] = frozenset()


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    user: str = ".*"
    role: str | None = None
    group: str = ".*"

    @field_validator("user", "group", "role", "catalog", "schema_", "table", check_fields=False)
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"{value!r} is not a valid regular expression: {error}") from None
        return value

    def matches_identity(self, identity: Identity) -> bool:
        if self.role is not None:
            return False
        return bool(re.fullmatch(self.user, identity.user)) and (
            self.group == ".*" or any(re.fullmatch(self.group, group) for group in identity.groups)
        )


class CatalogRule(_Rule):
    """Access to a whole catalog: ``all``, ``read-only`` or ``none`` (``true``/``false`` as Trino accepts)."""

    catalog: str = ".*"
    allow: bool | Literal["all", "read-only", "none"]

    def access(self) -> str:
        if isinstance(self.allow, bool):
            return "all" if self.allow else "none"
        return self.allow


class SchemaRule(_Rule):
    """Schema ownership."""

    catalog: str = ".*"
    schema_: str = Field(".*", alias="schema")
    owner: bool


class ColumnRule(BaseModel):
    """One column of a table rule: hidden, masked, or (by default) visible as is."""

    model_config = ConfigDict(extra="forbid")

    name: str
    allow: bool = True
    mask: str | None = None
    mask_environment: dict[str, str] | None = None


class TableRule(_Rule):
    """Privileges on tables, with column rules and a row filter."""

    catalog: str = ".*"
    schema_: str = Field(".*", alias="schema")
    table: str = ".*"
    privileges: list[Privilege]
    columns: list[ColumnRule] = []
    filter: str | None = None
    filter_environment: dict[str, str] | None = None


class RulesFile(BaseModel):
    """The parts of Trino's rules file the endpoint enforces (other sections are accepted and ignored)."""

    model_config = ConfigDict(extra="ignore")

    catalogs: list[CatalogRule] | None = None
    schemas: list[SchemaRule] | None = None
    tables: list[TableRule] | None = None


@dataclass(frozen=True)
class RuleExpression:
    """A mask or row filter in Trino SQL; ``current_user`` in it means ``run_as`` when the rule sets one."""

    sql: str
    run_as: str | None = None


@dataclass(frozen=True)
class TablePolicy:
    """What one identity may do with one table."""

    can_select: bool
    visible: bool
    hidden_columns: frozenset[str] = frozenset()
    masks: dict[str, RuleExpression] = field(default_factory=dict)
    row_filter: RuleExpression | None = None

    @property
    def rewrites(self) -> bool:
        """True when reading the table needs a governed subquery (hidden columns, masks or a row filter)."""
        return bool(self.hidden_columns or self.masks or self.row_filter)


FULL_ACCESS = TablePolicy(can_select=True, visible=True)
NO_ACCESS = TablePolicy(can_select=False, visible=False)


class AccessRules:
    """Answers access questions from a parsed rules file; first matching rule wins at each level."""

    def __init__(self, rules: RulesFile) -> None:
        self._rules = rules

    def catalog_access(self, identity: Identity, catalog: str) -> str:
        """``all``, ``read-only`` or ``none`` for one catalog."""
        if self._rules.catalogs is None:
            return "all"
        for rule in self._rules.catalogs:
            if rule.matches_identity(identity) and re.fullmatch(rule.catalog, catalog):
                return rule.access()
        return "none"

    def owns_schema(self, identity: Identity, catalog: str, schema: str) -> bool:
        """Whether the identity owns the schema (owners see it even when empty)."""
        if self.catalog_access(identity, catalog) == "none":
            return False
        if self._rules.schemas is None:
            return True
        for rule in self._rules.schemas:
            if (
                rule.matches_identity(identity)
                and re.fullmatch(rule.catalog, catalog)
                and re.fullmatch(rule.schema_, schema)
            ):
                return rule.owner
        return False

    def table_policy(self, identity: Identity, catalog: str, schema: str, table: str) -> TablePolicy:
        """Privileges, hidden and masked columns and row filter of one table for one identity."""
        if self.catalog_access(identity, catalog) == "none":
            return NO_ACCESS
        if self._rules.tables is None:
            return FULL_ACCESS
        for rule in self._rules.tables:
            if (
                rule.matches_identity(identity)
                and re.fullmatch(rule.catalog, catalog)
                and re.fullmatch(rule.schema_, schema)
                and re.fullmatch(rule.table, table)
            ):
                return _policy_of(rule)
        return NO_ACCESS


def _policy_of(rule: TableRule) -> TablePolicy:
    return TablePolicy(
        can_select="SELECT" in rule.privileges,
        visible=bool(rule.privileges),
        hidden_columns=frozenset(c.name for c in rule.columns if not c.allow),
        masks={
            c.name: RuleExpression(c.mask, (c.mask_environment or {}).get("user"))
            for c in rule.columns
            if c.allow and c.mask is not None
        },
        row_filter=RuleExpression(rule.filter, (rule.filter_environment or {}).get("user")) if rule.filter else None,
    )


def load_rules(path: Path) -> AccessRules:
    """Read and check a Trino rules file.

    Args:
        path: the JSON rules file (Trino's ``security.config-file``).

    Returns:
        The rules, ready to answer access questions.

    Raises:
        SqlEndpointError: the file is missing, not JSON, or a rule is malformed; the message names the rule.
    """
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise SqlEndpointError(
            f"cannot read access-control rules {path}: {error}. Fix the file or point "
            "LAKEFORGE_SQL__RULES_FILE at a valid Trino rules file."
        ) from None
    try:
        return AccessRules(RulesFile.model_validate(document))
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors())
        raise SqlEndpointError(f"access-control rules {path} are malformed: {problems}") from None
