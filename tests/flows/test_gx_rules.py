"""The custom expectation that no kept paragraph is matched by a news-chrome rule."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from flows import validation
from transforms.rules import ROLE_CHROME, Rule, RuleSet

SUITE = {
    "name": "chrome_check",
    "expectations": [{"type": "expect_column_values_to_not_match_rules", "kwargs": {"column": "text", "rules": {"$PARAMETER": "rules"}}}],
}


def _check(tmp_path: Path, texts: list[str], rules: RuleSet) -> validation.TableValidation:
    (tmp_path / "chrome_check.json").write_text(json.dumps(SUITE))
    frame = pd.DataFrame({"text": texts})
    [result] = validation.validate_tables({"chrome_check": frame}, {"rules": rules.records(ROLE_CHROME)}, tmp_path)
    return result


def test_a_paragraph_matched_by_a_chrome_rule_fails_with_its_text(tmp_path: Path) -> None:
    result = _check(tmp_path, ["The council met on Tuesday.", "Sign up for our newsletters", "Share this article"], RuleSet())
    assert not result.success
    assert "expect_column_values_to_not_match_rules" in result.failed[0]
    assert "2 unexpected" in result.failed[0] and "Sign up for our newsletters" in result.failed[0]


def test_word_limits_and_other_roles_are_respected(tmp_path: Path) -> None:
    long_cta = "Sign up for our newsletter " + "and read this long sentence " * 20
    byline = "By Jane Smith"  # a byline rule, not a chrome rule: not this expectation's business
    assert _check(tmp_path, [long_cta, byline, "The council met on Tuesday."], RuleSet()).success


def test_user_rules_are_checked_too(tmp_path: Path) -> None:
    rules = RuleSet((*RuleSet().rules, Rule("sponsor_line", ROLE_CHROME, r"^brought to you by\b")))
    assert not _check(tmp_path, ["Brought to you by Acme"], rules).success
    assert _check(tmp_path, ["Brought to you by Acme"], RuleSet()).success
