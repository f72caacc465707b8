"""Cleaning one document: every block is kept, moved to metadata, or removed with a reason.

Precedence, first decision wins: title and its copies; news-chrome rules; caption copies; other
in-document repeats; site chrome; short navigation before the title; a closing bare-name byline.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from transforms.blocks import Block
from transforms.repeats import RepeatConfig, is_headline_like, repeat_groups, repeat_key, split_credit_tail
from transforms.rules import NAME_ONLY, NAME_STOPWORDS, ROLE_BYLINE, ROLE_CREDIT, RuleSet
from transforms.schema import ROLE_BODY, ROLE_HEADING

# Removal reasons, as written to removed.parquet. Rule removals use "rule:<rule name>".
REASON_TITLE_REPEAT = "repeat:title"
REASON_CAPTION_REPEAT = "repeat:caption"
REASON_BLOCK_REPEAT = "repeat:block"
REASON_BYLINE_REPEAT = "repeat:byline"
REASON_SITE_CHROME = "site_chrome"
REASON_BEFORE_TITLE = "before_title"


def rule_reason(rule_name: str) -> str:
    return f"rule:{rule_name}"


@dataclass(frozen=True)
class CleanConfig:
    """Settings of the in-document cleaning stage."""

    rules: RuleSet = field(default_factory=RuleSet)
    repeats: RepeatConfig = field(default_factory=RepeatConfig)
    before_title_max_words: int = 8
    heading_max_words: int = 20

    def __post_init__(self) -> None:
        if self.before_title_max_words < 0:
            raise ValueError("before_title_max_words must be >= 0")
        if self.heading_max_words < 1:
            raise ValueError("heading_max_words must be >= 1")


@dataclass(frozen=True)
class Kept:
    position: int
    text: str
    role: str


@dataclass(frozen=True)
class Removed:
    position: int
    text: str
    reason: str
    matched: str | None


@dataclass
class CleanedDocument:
    """What cleaning made of one document's blocks."""

    title: str | None = None
    title_position: int | None = None
    byline: str | None = None
    byline_position: int | None = None
    captions: list[str] = field(default_factory=list)
    caption_positions: list[int] = field(default_factory=list)
    credits: list[str] = field(default_factory=list)
    credit_positions: list[int] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)
    removed: list[Removed] = field(default_factory=list)

    @property
    def body(self) -> str:
        return "\n\n".join(k.text for k in self.kept)


@dataclass
class _Decision:
    action: str  # keep | remove | title | caption | credit | byline
    reason: str | None = None
    matched: str | None = None


def _find_title(
    texts: Sequence[str], keys: Sequence[str], groups: Sequence[int], candidate: Sequence[bool], given: str | None
) -> tuple[int | None, set[int]]:
    """The title block and the blocks that are copies of it (page-title variants included)."""
    n = len(texts)
    if given:
        given_key = repeat_key(given)
        copies = {i for i in range(n) if keys[i] == given_key}
        return None, copies
    first = next((i for i in range(n) if candidate[i]), None)
    if first is None:
        return None, set()
    # The page <title> often wraps the headline with the site name ("Site - Headline", "Headline | Site"):
    # a later headline-like block whose words sit inside the first one is the headline itself.
    first_key = keys[first]
    for i in range(first + 1, n):
        if candidate[i] and keys[i] != first_key and len(keys[i]) >= 0.5 * len(first_key) and keys[i] in first_key:
            return i, {j for j in range(n) if keys[j] == keys[i] or j == first}
    repeated = {g for g in groups if groups.count(g) > 1}
    for i in range(n):
        if candidate[i] and groups[i] in repeated:
            return i, {j for j in range(n) if groups[j] == groups[i] and keys[j] == keys[i]}
    return first, {first}


def clean_document(
    blocks: Sequence[Block],
    config: CleanConfig,
    chrome_keys: Collection[str] = frozenset(),
    given_title: str | None = None,
) -> CleanedDocument:
    """Label every block of one document; `chrome_keys` are the repeat keys of its site's chrome."""
    texts = [b.text for b in blocks]
    n = len(texts)
    keys = [repeat_key(t) for t in texts]
    word_counts = [len(t.split()) for t in texts]
    hits = [config.rules.match(t, w) for t, w in zip(texts, word_counts, strict=True)]
    groups = repeat_groups(texts, config.repeats)
    search = config.repeats.title_search_blocks
    candidate = [
        i < search and hits[i] is None and keys[i] not in chrome_keys and is_headline_like(texts[i], config.repeats.title_max_words)
        for i in range(n)
    ]
    decisions: list[_Decision | None] = [None] * n
    out = CleanedDocument()

    title_at, title_copies = _find_title(texts, keys, groups, candidate, given_title)
    if given_title:
        out.title = given_title
    elif title_at is not None:
        out.title, out.title_position = texts[title_at], title_at
        decisions[title_at] = _Decision("title")
    for i in sorted(title_copies - {title_at} if title_at is not None else title_copies):
        decisions[i] = _Decision("remove", REASON_TITLE_REPEAT, out.title)

    for i, hit in enumerate(hits):
        if decisions[i] is not None or hit is None:
            continue
        if hit.rule.role == ROLE_CREDIT:
            decisions[i] = _Decision("credit")
        elif hit.rule.role == ROLE_BYLINE and out.byline is None:
            decisions[i] = _Decision("byline")
            out.byline, out.byline_position = texts[i], i
        elif hit.rule.role == ROLE_BYLINE:
            decisions[i] = _Decision("remove", REASON_BYLINE_REPEAT, out.byline)
        else:
            decisions[i] = _Decision("remove", rule_reason(hit.rule.name), hit.matched)

    members: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        if decisions[i] is None:
            members.setdefault(g, []).append(i)
    for copies in members.values():
        if len(copies) < 2:
            continue
        tails = [split_credit_tail(texts[i])[1] for i in copies]
        next_is_credit = any(j + 1 < n and hits[j + 1] is not None and hits[j + 1].rule.role == ROLE_CREDIT for j in copies)  # type: ignore[union-attr]
        if any(tails) or next_is_credit:
            head = copies[0]
            decisions[head] = _Decision("caption")
            for i in copies[1:]:
                decisions[i] = _Decision("remove", REASON_CAPTION_REPEAT, f"caption at line {blocks[head].position}")
            out.credits.extend(t for t in dict.fromkeys(tails) if t)
        else:
            for i in copies[1:]:
                decisions[i] = _Decision("remove", REASON_BLOCK_REPEAT, f"copy of line {blocks[copies[0]].position}")

    for i in range(n):
        if decisions[i] is None and keys[i] and keys[i] in chrome_keys:
            decisions[i] = _Decision("remove", REASON_SITE_CHROME, None)

    if out.title_position is not None and config.before_title_max_words:
        for i in range(title_at or 0):
            if decisions[i] is None and word_counts[i] <= config.before_title_max_words:
                decisions[i] = _Decision("remove", REASON_BEFORE_TITLE, None)

    if out.byline is None:
        last = max((i for i in range(n) if decisions[i] is None), default=None)
        if last is not None and _is_bare_name(texts[last]) and any(d is None for d in decisions[:last]):
            decisions[last] = _Decision("byline")
            out.byline, out.byline_position = texts[last], last

    for block, decision in zip(blocks, decisions, strict=True):
        action = decision.action if decision else "keep"
        if action == "keep":
            role = ROLE_HEADING if is_headline_like(block.text, config.heading_max_words) else ROLE_BODY
            out.kept.append(Kept(block.position, block.text, role))
        elif action == "remove":
            assert decision is not None
            out.removed.append(Removed(block.position, block.text, decision.reason or "", decision.matched))
        elif action == "title":
            out.title_position = block.position
        elif action == "byline":
            out.byline_position = block.position
        elif action == "caption":
            caption, tail = split_credit_tail(block.text)
            out.captions.append(caption)
            out.caption_positions.append(block.position)
            if tail and tail not in out.credits:
                out.credits.append(tail)
        elif action == "credit":
            out.credits.append(block.text)
            out.credit_positions.append(block.position)
    return out


def _is_bare_name(text: str) -> bool:
    return bool(NAME_ONLY.match(text)) and not any(w.casefold() in NAME_STOPWORDS for w in text.split())
