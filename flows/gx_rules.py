"""A Great Expectations expectation: no value of a column is matched by a news-chrome rule.

`expect_column_values_to_not_match_regex_list` would need each rule's word limit folded into its
regex (a lookahead), which sends every value through Python's `re` once per rule: 17 s of the
corpus run's 23 s of validation. This expectation asks the rule matcher itself, which runs the
default rules over the whole column at once (transforms.bulk) and applies word limits and user
rules exactly as cleaning does. Importing this module registers it with GX.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from great_expectations.compatibility import pydantic
from great_expectations.core.suite_parameters import SuiteParameterDict
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import ColumnMapMetricProvider, column_condition_partial

from transforms.bulk import Texts
from transforms.rules import Rule, RuleSet


class ColumnValuesNotMatchRules(ColumnMapMetricProvider):
    condition_metric_name = "column_values.not_match_rules"
    condition_value_keys = ("rules",)

    @column_condition_partial(engine=PandasExecutionEngine)  # type: ignore[misc]
    def _pandas(cls, column: pd.Series, rules: list[dict[str, Any]], **kwargs: Any) -> pd.Series:
        ruleset = RuleSet(tuple(Rule(**r) for r in rules))
        strings = column.astype(str)
        bulk = Texts.of(strings)
        hits = ruleset.match_all(strings.tolist(), bulk.token_counts(), bulk)
        return pd.Series(np.array([h is None for h in hits], dtype=bool), index=column.index)


class ExpectColumnValuesToNotMatchRules(ColumnMapExpectation):
    """Expect no column value to be matched by any of `rules` ({name, role, pattern, max_words, ignore_case} records)."""

    rules: list[dict[str, Any]] | SuiteParameterDict = pydantic.Field(description="Rule records, as `RuleSet.records` gives.")

    map_metric = "column_values.not_match_rules"
    success_keys = ("rules", "mostly")
    args_keys = ("column", "rules")
    library_metadata: ClassVar[dict[str, Any]] = {"tags": ["newsclean"], "contributors": ["newsclean"]}
