from __future__ import annotations

import pytest

from transforms.blocks import normalize_text, split_blocks
from transforms.clean import CleanConfig, CleanedDocument, clean_document
from transforms.repeats import RepeatConfig, is_headline_like, repeat_groups, split_credit_tail

CONFIG = CleanConfig()


def clean(text: str, chrome: frozenset[str] = frozenset(), title: str | None = None) -> CleanedDocument:
    return clean_document(split_blocks(normalize_text(text)), CONFIG, chrome, title)


def body(doc: CleanedDocument) -> list[str]:
    return [k.text for k in doc.kept]


def reasons(doc: CleanedDocument) -> dict[int, str]:
    return {r.position: r.reason for r in doc.removed}


def test_title_repeated_is_metadata_once() -> None:
    doc = clean("Storm Hits Coast\n\nStorm Hits Coast\n\nThe storm arrived at dawn and flooded the harbour.")
    assert doc.title == "Storm Hits Coast"
    assert doc.title_position == 0
    assert reasons(doc) == {2: "repeat:title"}
    assert body(doc) == ["The storm arrived at dawn and flooded the harbour."]


def test_page_title_with_site_name_yields_the_bare_headline() -> None:
    doc = clean("Storm Hits Coast | The Daily Example\nNews\nStorm Hits Coast\nThe storm arrived at dawn and flooded the harbour.")
    assert doc.title == "Storm Hits Coast"
    assert doc.title_position == 2
    assert reasons(doc)[0] == "repeat:title"
    assert reasons(doc)[1] == "before_title"


def test_given_title_removes_its_copies() -> None:
    doc = clean("Storm Hits Coast\nThe storm arrived at dawn.", title="Storm Hits Coast")
    assert doc.title == "Storm Hits Coast" and doc.title_position is None
    assert body(doc) == ["The storm arrived at dawn."]


def test_caption_copies_with_and_without_credit() -> None:
    caption = "Firefighters work on the roof of the town hall in the early hours of Sunday, March 1, 2026."
    text = f"Fire Guts Town Hall\n{caption}\n{caption} Jane Roe / AP Photo\n{caption}\nThe fire started in the archive."
    doc = clean(text)
    assert doc.captions == [caption]
    assert doc.caption_positions == [1]
    assert doc.credits == ["Jane Roe / AP Photo"]
    assert reasons(doc) == {2: "repeat:caption", 3: "repeat:caption"}
    assert body(doc) == ["The fire started in the archive."]


def test_credit_line_is_metadata() -> None:
    doc = clean("Fire Guts Town Hall\n(Rudaw TV via AP)\nThe fire started in the archive.")
    assert doc.credits == ["(Rudaw TV via AP)"]
    assert doc.credit_positions == [1]


def test_repeated_paragraph_keeps_the_fullest_copy() -> None:
    full = "The council voted seven to two to approve the plan, which now goes to the mayor for signature."
    teaser = "The council voted seven to two to approve the plan, which now goes to the mayor"
    doc = clean(f"Council Votes on Plan\n{teaser}\nMore text here that is long enough to be prose.\n{full}")
    assert full in body(doc) and teaser not in body(doc)
    assert reasons(doc)[1] == "repeat:block"


def test_byline_by_and_bare_name_at_end() -> None:
    assert clean("Headline Here Today\nBy Jane Smith\nBody text, long enough.").byline == "By Jane Smith"
    doc = clean("Headline Here Today\nBody text, long enough.\nRaymond Cao")
    assert doc.byline == "Raymond Cao" and doc.byline_position == 2


def test_site_chrome_keys_are_removed() -> None:
    doc = clean("Headline Here Today\nLocal News\nBody text, long enough.", chrome=frozenset({"local news"}))
    assert reasons(doc) == {1: "site_chrome"}


# Text that must NOT change: every block stays in the body.
UNCHANGED = [
    ("subheading", "Headline Here Today\nThe first paragraph says something.\nRecent Developments\nThe second paragraph says more."),
    ("quote-lead-in", "Headline Here Today\nThe first paragraph says something.\nUSA Today:\nThe quoted paragraph follows here."),
    ("short-quote", "Headline Here Today\nThe first paragraph says something.\n“We are ready,” she said."),
    ("one-line", "Headline Here Today\nThe idea went over like a lead balloon."),
    ("dateline", "Headline Here Today\nBAGHDAD, Iraq (AP) — Iraqi forces pushed deeper into Mosul on Friday."),
    ("name-mid-text", "Headline Here Today\nFirst paragraph.\nMarina Ottaway\nShe is an expert on the region."),
    ("repeated-short-word", "Headline Here Today\nFirst paragraph here.\nYes.\nSecond paragraph here.\nYes."),
]


@pytest.mark.parametrize(("case_id", "text"), UNCHANGED, ids=[c[0] for c in UNCHANGED])
def test_body_text_is_kept(case_id: str, text: str) -> None:
    doc = clean(text)
    lines = text.split("\n")[1:]
    if case_id == "repeated-short-word":
        # Exact repeats inside a document are removed (the second "Yes."); everything else stays.
        lines = lines[:-1]
    assert body(doc) == lines


def test_repeat_groups_need_length_for_prefix_matches() -> None:
    cfg = RepeatConfig()
    assert repeat_groups(["Short", "Short text that goes on"], cfg) == [0, 1]
    assert repeat_groups(["a" * 40, "a" * 40 + " b"], cfg) == [0, 0]


def test_split_credit_tail() -> None:
    assert split_credit_tail("A caption. Marko Drobnjakovic / AP Photo") == ("A caption.", "Marko Drobnjakovic / AP Photo")
    assert split_credit_tail("No credit here.") == ("No credit here.", None)


@pytest.mark.parametrize(
    ("text", "expected"), [("Recent Developments", True), ("A sentence ends.", False), ("Is it over?", True), ("123", False)]
)
def test_is_headline_like(text: str, expected: bool) -> None:
    assert is_headline_like(text, 30) is expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"near_min_chars": 0}, "near_min_chars must be >= 1"),
        ({"near_min_ratio": 0.0}, "near_min_ratio must be in (0.0, 1.0]"),
        ({"title_max_words": 0}, "title_max_words must be >= 1"),
    ],
)
def test_repeat_config_rejects_bad_values(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        RepeatConfig(**kwargs)  # type: ignore[arg-type]


def test_clean_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="before_title_max_words must be >= 0"):
        CleanConfig(before_title_max_words=-1)
