"""Property tests: cleaning is idempotent and conserves every block, whatever the input."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transforms.blocks import normalize_text, split_blocks
from transforms.clean import CleanConfig, CleanedDocument, clean_document

CONFIG = CleanConfig()

POOL = [
    "Storm Hits Coast",
    "Storm Hits Coast | The Daily Example",
    "You are here",
    "Home > News > Storm Hits Coast",
    "Sign up for our newsletters to stay up to date.",
    "Join the conversation as a VIP Member",
    "Share this article",
    "Facebook",
    "By Jane Smith",
    "Raymond Cao",
    "(Rudaw TV via AP)",
    "Firefighters work on the roof of the town hall in the early hours of Sunday.",
    "Firefighters work on the roof of the town hall in the early hours of Sunday. Jane Roe / AP Photo",
    "The storm arrived at dawn and flooded the harbour, the coastguard said.",
    "Residents were asked to share their views at a public meeting on Tuesday.",
    "Recent Developments",
    "USA Today:",
    "“We are ready,” she said.",
    "© 2026 The Daily Example. All rights reserved.",
    "334 comments",
    "News & Politics",
]
LINES = st.lists(st.one_of(st.sampled_from(POOL), st.text(max_size=60)), max_size=35)


def _clean(text: str, title: str | None = None) -> CleanedDocument:
    return clean_document(split_blocks(normalize_text(text)), CONFIG, frozenset(), title)


def _render(doc: CleanedDocument) -> str:
    """The cleaned document as text again: title, byline where it stood, body paragraphs."""
    parts = [doc.title] if doc.title else []
    body = [k.text for k in doc.kept]
    first_kept = doc.kept[0].position if doc.kept else 0
    if doc.byline and doc.byline_position is not None and doc.byline_position < first_kept:
        parts.append(doc.byline)
        parts.extend(body)
    else:
        parts.extend(body)
        if doc.byline:
            parts.append(doc.byline)
    return "\n\n".join(parts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES)
def test_cleaning_is_idempotent(lines: list[str]) -> None:
    first = _clean("\n".join(lines))
    again = _clean(_render(first), title=first.title)
    assert [k.text for k in again.kept] == [k.text for k in first.kept]
    assert again.byline == first.byline


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES)
def test_every_block_is_kept_removed_or_metadata_once(lines: list[str]) -> None:
    blocks = split_blocks(normalize_text("\n".join(lines)))
    doc = clean_document(blocks, CONFIG)
    placed = [k.position for k in doc.kept] + [r.position for r in doc.removed] + doc.caption_positions + doc.credit_positions
    placed += [p for p in (doc.title_position, doc.byline_position) if p is not None]
    assert sorted(placed) == [b.position for b in blocks]
    assert all(r.reason for r in doc.removed)
