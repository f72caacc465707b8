from __future__ import annotations

import pandas as pd
import pytest

from transforms.sitechrome import SiteChromeConfig, merge_line_groups, site_stats, stats_for_sources

LONG = "This is a long paragraph of article prose that runs well past fifteen words in all, as articles do."


def _blocks(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """(source, group, key) rows."""
    frame = pd.DataFrame(rows, columns=["source", "group", "key"])
    frame["n_words"] = frame["key"].str.split().str.len()
    return frame


def test_short_line_in_two_distinct_pages_is_chrome() -> None:
    stats = site_stats(_blocks([("s", "a", "local news"), ("s", "b", "local news"), ("s", "b", "other")]), SiteChromeConfig())
    assert stats.chrome == {"s": frozenset({"local news"})}
    # Only recurring lines are listed: "other" is in one page.
    assert stats.line_documents.to_dict("records") == [{"source": "s", "key": "local news", "documents": 2}]
    assert stats.source_documents == {"s": 2}


def test_near_duplicate_pages_count_once() -> None:
    # Two raw pages of one article share a group: their shared lines are not chrome.
    stats = site_stats(_blocks([("s", "a", "local news"), ("s", "a", "local news"), ("s", "a", LONG)]), SiteChromeConfig())
    assert stats.chrome == {}


def test_long_line_needs_three_pages() -> None:
    two = site_stats(_blocks([("s", "a", LONG), ("s", "b", LONG)]), SiteChromeConfig())
    three = site_stats(_blocks([("s", "a", LONG), ("s", "b", LONG), ("s", "c", LONG)]), SiteChromeConfig())
    assert two.chrome == {} and three.chrome == {"s": frozenset({LONG})}


def test_no_source_no_chrome() -> None:
    assert site_stats(_blocks([("", "a", "x"), ("", "b", "x")]), SiteChromeConfig()).chrome == {}


def test_sources_do_not_mix() -> None:
    assert site_stats(_blocks([("s", "a", "x"), ("t", "b", "x")]), SiteChromeConfig()).chrome == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_documents": 1}, "min_documents must be >= 2"),
        ({"long_line_min_documents": 1}, "long_line_min_documents must be >= min_documents"),
        ({"long_line_words": 0}, "long_line_words and max_words must be >= 1"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SiteChromeConfig(**kwargs)


def test_stats_for_sources_list_the_recurring_lines_of_those_sources() -> None:
    lines = _blocks([("s", "a", "local news"), ("s", "b", "local news"), ("s", "b", "other"), ("t", "c", "x"), ("t", "d", "x")])
    merged = merge_line_groups(lines, lines[["source", "group"]], SiteChromeConfig())
    stats = stats_for_sources(merged.lines, merged.sizes, {"s"})
    assert stats.line_documents.to_dict("records") == [{"source": "s", "key": "local news", "documents": 2}]
    assert stats.chrome == {"s": frozenset({"local news"})}
    assert stats.source_documents == {"s": 2}
