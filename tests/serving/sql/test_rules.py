"""Trino's rules-file semantics: first match wins, no match denies, a missing section allows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lake.errors import SqlEndpointError
from serving.sql.rules import AccessRules, Identity, RulesFile, load_rules

ANALYST = Identity("alice", frozenset({"analyst"}))


def _rules(document: dict) -> AccessRules:
    return AccessRules(RulesFile.model_validate(document))


def test_missing_sections_allow_everything() -> None:
    rules = _rules({})
    assert rules.catalog_access(ANALYST, "lake") == "all"
    assert rules.table_policy(ANALYST, "lake", "raw", "cards").can_select


def test_first_matching_rule_wins_and_no_match_denies() -> None:
    rules = _rules(
        {
            "tables": [
                {"group": "analyst", "schema": "raw", "privileges": []},
                {"user": "al.*", "privileges": ["SELECT"]},
            ]
        }
    )
    assert not rules.table_policy(ANALYST, "lake", "raw", "cards").visible
    assert rules.table_policy(ANALYST, "lake", "curated", "x").can_select
    assert not rules.table_policy(Identity("bob"), "lake", "curated", "x").visible


def test_catalog_rules_accept_trino_boolean_and_named_access() -> None:
    rules = _rules({"catalogs": [{"user": "alice", "allow": False}, {"catalog": "lake", "allow": "read-only"}]})
    assert rules.catalog_access(ANALYST, "lake") == "none"
    assert rules.catalog_access(Identity("bob"), "lake") == "read-only"
    assert rules.catalog_access(Identity("bob"), "other") == "none"


def test_column_rules_and_filters_become_a_policy() -> None:
    rules = _rules(
        {
            "tables": [
                {
                    "privileges": ["SELECT"],
                    "columns": [{"name": "ssn", "allow": False}, {"name": "phone", "mask": "'x'"}],
                    "filter": "owner = current_user",
                    "filter_environment": {"user": "svc"},
                }
            ]
        }
    )
    policy = rules.table_policy(ANALYST, "lake", "raw", "people")
    assert policy.hidden_columns == {"ssn"} and policy.masks["phone"].sql == "'x'"
    assert policy.row_filter is not None and policy.row_filter.run_as == "svc"


def test_malformed_rules_name_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"tables": [{"privileges": ["READ"]}]}))
    with pytest.raises(SqlEndpointError, match=r"tables\.0\.privileges"):
        load_rules(path)
    path.write_text(json.dumps({"tables": [{"table": "(", "privileges": []}]}))
    with pytest.raises(SqlEndpointError, match="not a valid regular expression"):
        load_rules(path)
    path.write_text("{not json")
    with pytest.raises(SqlEndpointError, match="cannot read access-control rules"):
        load_rules(path)
