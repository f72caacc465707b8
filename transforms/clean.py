"""Cleaning one document: every block is kept, moved to metadata, or removed with a reason.

Precedence, first decision wins: title and its copies; news-chrome rules; caption copies; other
in-document repeats; site chrome; short navigation before the title; a closing bare-name byline.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from transforms.blocks import Block
from transforms.bulk import Texts
from transforms.repeats import (
    HEADLINE_END,
    LETTER,
    RepeatConfig,
    caption_key,
    is_headline_like,
    repeat_groups,
    repeat_key,
    split_credit_tail,
)
from transforms.rules import CREDIT_TAIL, NAME_ONLY, NAME_STOPWORDS, ROLE_BYLINE, ROLE_CREDIT, RuleMatch, RuleSet
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
    title_min_words: int = 3

    def __post_init__(self) -> None:
        if self.before_title_max_words < 0:
            raise ValueError("before_title_max_words must be >= 0")
        if self.heading_max_words < 1:
            raise ValueError("heading_max_words must be >= 1")


# Named tuples, like Block: one per block of the corpus.
class Kept(NamedTuple):
    position: int
    text: str
    role: str


class Removed(NamedTuple):
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
    # The document's blocks, and which of them were kept or removed (indices into them): a corpus
    # run takes its rows by these indices, without a tuple per block.
    positions: Sequence[int] = ()
    texts: Sequence[str] = ()
    kept_rows: list[int] = field(default_factory=list)
    kept_roles: list[str] = field(default_factory=list)
    removed_rows: list[int] = field(default_factory=list)
    removed_reasons: list[str] = field(default_factory=list)
    removed_matched: list[str | None] = field(default_factory=list)

    @property
    def kept(self) -> list[Kept]:
        return [Kept(self.positions[i], self.texts[i], role) for i, role in zip(self.kept_rows, self.kept_roles, strict=True)]

    @property
    def removed(self) -> list[Removed]:
        return [
            Removed(self.positions[i], self.texts[i], reason, matched)
            for i, reason, matched in zip(self.removed_rows, self.removed_reasons, self.removed_matched, strict=True)
        ]

    @property
    def body(self) -> str:
        return "\n\n".join([self.texts[i] for i in self.kept_rows])


@dataclass(frozen=True)
class BlockFacts:
    """What cleaning reads of each block: computed for a whole corpus at once by `block_facts`."""

    keys: list[str]  # repeat_key
    caption_keys: list[str]  # repeat_key without a trailing credit
    word_counts: list[int]
    hits: list[RuleMatch | None]
    title_like: list[bool]  # is_headline_like(text, repeats.title_max_words)
    heading_like: list[bool]  # is_headline_like(text, heading_max_words)
    credit_tail: list[bool]  # split_credit_tail(text) finds a credit after some caption text

    def slice(self, start: int, stop: int) -> BlockFacts:
        return BlockFacts(
            self.keys[start:stop],
            self.caption_keys[start:stop],
            self.word_counts[start:stop],
            self.hits[start:stop],
            self.title_like[start:stop],
            self.heading_like[start:stop],
            self.credit_tail[start:stop],
        )


def block_facts(
    texts: Sequence[str],
    config: CleanConfig,
    keys: list[str] | None = None,
    n_words: npt.NDArray[np.int64] | None = None,
    bulk: Texts | None = None,
) -> BlockFacts:
    """`BlockFacts` of many blocks, each regex run over all of them at once (see transforms.bulk).

    `keys` (repeat_key), `n_words` (len(text.split())) and `bulk` (`Texts.of(texts)`) may be passed when already known.
    """
    bulk = Texts.of(texts) if bulk is None else bulk
    keys = bulk.words_joined().to_pylist() if keys is None else keys
    n_words = bulk.token_counts() if n_words is None else np.asarray(n_words, dtype=np.int64)
    has_tail = bulk.search(CREDIT_TAIL.pattern, python=CREDIT_TAIL)
    caption_keys = list(keys)
    credit_tail = [False] * len(texts)
    for i in np.flatnonzero(has_tail).tolist():
        caption_keys[i] = caption_key(texts[i])
        credit_tail[i] = bool(split_credit_tail(texts[i])[1])
    # is_headline_like, for both word limits.
    shaped = bulk.search(LETTER.pattern) & ~bulk.search(HEADLINE_END.pattern) & (n_words >= 1)
    return BlockFacts(
        keys=keys,
        caption_keys=caption_keys,
        word_counts=n_words.tolist(),
        hits=config.rules.match_all(texts, n_words, bulk),
        title_like=(shaped & (n_words <= config.repeats.title_max_words)).tolist(),
        heading_like=(shaped & (n_words <= config.heading_max_words)).tolist(),
        credit_tail=credit_tail,
    )


def _facts_of_one(texts: Sequence[str], config: CleanConfig) -> BlockFacts:
    """`BlockFacts` of one document's blocks, block by block."""
    word_counts = [len(t.split()) for t in texts]
    return BlockFacts(
        keys=[repeat_key(t) for t in texts],
        caption_keys=[caption_key(t) for t in texts],
        word_counts=word_counts,
        hits=[config.rules.match(t, w) for t, w in zip(texts, word_counts, strict=True)],
        title_like=[is_headline_like(t, config.repeats.title_max_words) for t in texts],
        heading_like=[is_headline_like(t, config.heading_max_words) for t in texts],
        credit_tail=[bool(split_credit_tail(t)[1]) for t in texts],
    )


@dataclass
class _Decision:
    action: str  # keep | remove | title | caption | credit | byline
    reason: str | None = None
    matched: str | None = None


def _find_title(keys: Sequence[str], candidate: Sequence[bool], given: str | None, min_words: int) -> tuple[int | None, set[int]]:
    """The title block and the blocks that are copies of it.

    The earliest of: a block that wraps a later one with a site name ("Headline | Site", "Site -
    Headline": the later block is the headline), or a block repeated exactly. Failing both, the
    first candidate with at least `min_words` words, else the first candidate.
    """
    n = len(keys)
    if given:
        given_key = repeat_key(given)
        return None, {i for i in range(n) if keys[i] == given_key}
    cands = [i for i in range(n) if candidate[i]]
    seen: dict[str, int] = {}
    for i in cands:
        if keys[i] in seen:
            first = seen[keys[i]]
            return first, {j for j in range(n) if keys[j] == keys[first]}
        seen[keys[i]] = i
        # Does this block sit inside an earlier, longer one (the page title with the site name)?
        for wrapper_key, w in seen.items():
            if w != i and _wraps(wrapper_key, keys[i]):
                return i, {j for j in range(n) if keys[j] in (keys[i], wrapper_key)}
    multiword = next((i for i in cands if len(keys[i].split()) >= min_words), None)
    fallback = multiword if multiword is not None else (cands[0] if cands else None)
    return fallback, ({fallback} if fallback is not None else set())


def _wraps(wrapper: str, key: str) -> bool:
    """True when `wrapper` is `key` plus a site name before or after it."""
    if len(key) >= len(wrapper) or len(key.split()) < 2 or len(key) < 0.3 * len(wrapper):
        return False
    return wrapper.startswith(key + " ") or wrapper.endswith(" " + key)


def clean_document(
    blocks: Sequence[Block],
    config: CleanConfig,
    chrome_keys: Collection[str] = frozenset(),
    given_title: str | None = None,
    facts: BlockFacts | None = None,
) -> CleanedDocument:
    """Label every block of one document; `chrome_keys` are the repeat keys of its site's chrome.

    `facts` are the blocks' `BlockFacts` when already computed for many documents at once.
    """
    return clean_columns([b.position for b in blocks], [b.text for b in blocks], config, chrome_keys, given_title, facts)


def clean_columns(
    positions: Sequence[int],
    texts: Sequence[str],
    config: CleanConfig,
    chrome_keys: Collection[str] = frozenset(),
    given_title: str | None = None,
    facts: BlockFacts | None = None,
) -> CleanedDocument:
    """`clean_document` of the blocks given as their positions and texts (no `Block` per line)."""
    n = len(texts)
    if facts is None:
        facts = _facts_of_one(texts, config)
    keys, word_counts, hits = facts.keys, facts.word_counts, facts.hits
    groups = repeat_groups(texts, config.repeats, facts.caption_keys)
    search = config.repeats.title_search_blocks
    candidate = [hits[i] is None and keys[i] not in chrome_keys and facts.title_like[i] for i in range(min(n, search))] + [False] * max(
        n - search, 0
    )
    decisions: list[_Decision | None] = [None] * n
    out = CleanedDocument(positions=positions, texts=texts)

    title_at, title_copies = _find_title(keys, candidate, given_title, config.title_min_words)
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
                decisions[i] = _Decision("remove", REASON_CAPTION_REPEAT, f"caption at line {positions[head]}")
            out.credits.extend(t for t in dict.fromkeys(tails) if t)
        else:
            # The fullest copy stays (a teaser is often a cut-down repeat of the paragraph).
            keep = max(copies, key=lambda i: (len(texts[i]), -i))
            for i in copies:
                if i != keep:
                    decisions[i] = _Decision("remove", REASON_BLOCK_REPEAT, f"copy of line {positions[keep]}")

    for i in range(n):
        if decisions[i] is None and keys[i] and keys[i] in chrome_keys:
            decisions[i] = _Decision("remove", REASON_SITE_CHROME, None)

    if out.title_position is not None and config.before_title_max_words:
        for i in range(title_at or 0):
            if decisions[i] is None and word_counts[i] <= config.before_title_max_words:
                decisions[i] = _Decision("remove", REASON_BEFORE_TITLE, None)

    if out.byline is None:
        last = max((i for i in range(n) if decisions[i] is None), default=None)
        if last is not None and is_bare_name(texts[last]) and any(d is None for d in decisions[:last]):
            decisions[last] = _Decision("byline")
            out.byline, out.byline_position = texts[last], last

    for i, (position, text, decision, heading_like) in enumerate(zip(positions, texts, decisions, facts.heading_like, strict=True)):
        action = decision.action if decision else "keep"
        if action == "keep":
            out.kept_rows.append(i)
            out.kept_roles.append(ROLE_HEADING if heading_like else ROLE_BODY)
        elif action == "remove":
            assert decision is not None
            out.removed_rows.append(i)
            out.removed_reasons.append(decision.reason or "")
            out.removed_matched.append(decision.matched)
        elif action == "title":
            out.title_position = position
        elif action == "byline":
            out.byline_position = position
        elif action == "caption":
            caption, tail = split_credit_tail(text)
            out.captions.append(caption)
            out.caption_positions.append(position)
            if tail and tail not in out.credits:
                out.credits.append(tail)
        elif action == "credit":
            out.credits.append(text)
            out.credit_positions.append(position)
    return out


def is_bare_name(text: str) -> bool:
    return bool(NAME_ONLY.match(text)) and not any(w.casefold() in NAME_STOPWORDS for w in text.split())
