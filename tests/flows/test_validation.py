"""Which columns a suite checks (validation hands GX only those), and how validation calls GX."""

from __future__ import annotations

import threading
import time
from typing import Any

import pandas as pd
import pytest

from flows.validation import checked_columns, load_suite_spec, validate_tables


def test_columns_named_by_the_expectations_in_order_of_mention() -> None:
    spec = {
        "expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "doc_id"}},
            {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["doc_id", "position"]}},
            {"type": "expect_column_pair_values_to_be_equal", "kwargs": {"column_A": "a", "column_B": "b"}},
            {"type": "expect_table_row_count_to_equal", "kwargs": {"value": 3}},
        ]
    }
    assert checked_columns(spec) == ["doc_id", "position", "a", "b"]


def test_an_expectation_on_the_table_columns_needs_every_column() -> None:
    spec = {"expectations": [{"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": ["a"]}}]}
    assert checked_columns(spec) is None


def test_the_documents_suite_skips_the_list_columns() -> None:
    columns = checked_columns(load_suite_spec("documents"))
    assert columns is not None and "doc_id" in columns and "captions" not in columns


def test_a_column_the_frame_lacks_still_fails_validation() -> None:
    frame = pd.DataFrame({"reason": ["x"], "doc_id": ["d"], "position": [0]})  # no "text" column
    (result,) = validate_tables({"removed": frame}, {})
    assert not result.success


def test_a_narrow_integer_column_out_of_range_fails_and_names_the_value() -> None:
    # Columns narrower than int64 are widened for GX's vectorised range check; a bad value must still fail.
    frame = pd.DataFrame(
        {
            "doc_id": ["d", "d"],
            "position": pd.array([0, -1], dtype="int32"),
            "text": ["One line.", "Another line."],
            "cluster_id": ["c0", "c1"],
            "role": ["body", "body"],
            "cluster_size": pd.array([1, 1], dtype="int16"),
        }
    )
    (result,) = validate_tables({"paragraphs": frame}, {"chrome_rules": []})
    assert not result.success
    expected = "expect_column_values_to_be_between {'column': 'position'}: 1 unexpected, e.g. [-1]"
    assert [f for f in result.failed if "between" in f] == [expected]


def test_validations_from_many_threads_run_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # GX's suite-parameter parser (pyparsing) breaks for the whole process when two threads use it
    # first at once, and per-partition tasks run in threads: validate_tables must not overlap itself.
    import great_expectations as gx

    run = gx.ValidationDefinition.run
    inside, most = 0, 0
    guard = threading.Lock()

    def counted_run(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        time.sleep(0.05)
        try:
            return run(self, *args, **kwargs)
        finally:
            with guard:
                inside -= 1

    monkeypatch.setattr(gx.ValidationDefinition, "run", counted_run)
    frame = pd.DataFrame({"reason": ["x"], "doc_id": ["d"], "position": [0], "text": ["t"]})
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(validate_tables({"removed": frame}, {})[0].success)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and most == 1


def test_batches_are_not_fingerprinted() -> None:
    # GX hashes every row of an in-memory batch for a marker nothing reads; validation turns it off.
    frame = pd.DataFrame({"reason": ["site_chrome"], "doc_id": ["d"], "position": [0], "text": ["t"]})
    (result,) = validate_tables({"removed": frame}, {})
    markers = result.result["meta"]["batch_markers"]
    assert result.success and "ge_load_time" in markers and "pandas_data_fingerprint" not in markers
