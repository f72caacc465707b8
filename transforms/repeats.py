"""Blocks repeated inside one document: the title, caption copies, and other exact or near repeats."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from transforms.rules import CREDIT_TAIL

_WORDS = re.compile(r"\w+")
HEADLINE_END = re.compile(r"[.,;:]$|[.,;:][\"'’”)\]]$")
LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class RepeatConfig:
    """How alike two blocks of one document must be to count as copies of each other."""

    near_min_chars: int = 30
    near_min_ratio: float = 0.8
    title_max_words: int = 30
    title_search_blocks: int = 60

    def __post_init__(self) -> None:
        if self.near_min_chars < 1:
            raise ValueError("near_min_chars must be >= 1")
        if not 0.0 < self.near_min_ratio <= 1.0:
            raise ValueError("near_min_ratio must be in (0.0, 1.0]")
        if self.title_max_words < 1:
            raise ValueError("title_max_words must be >= 1")
        if self.title_search_blocks < 1:
            raise ValueError("title_search_blocks must be >= 1")


def repeat_key(text: str) -> str:
    """Case-, space- and punctuation-insensitive form of a block, for equality tests."""
    return " ".join(_WORDS.findall(text.casefold()))


def split_credit_tail(text: str) -> tuple[str, str | None]:
    """Split '<caption> Name / AP Photo' into the caption and its credit."""
    found = CREDIT_TAIL.search(text)
    if not found or found.start() == 0:
        return text, None
    return text[: found.start()].rstrip(), found.group(0).strip()


def is_headline_like(text: str, max_words: int) -> bool:
    """Short, has letters, and does not end like a sentence or a clause."""
    n_words = len(text.split())
    return 1 <= n_words <= max_words and bool(LETTER.search(text)) and not HEADLINE_END.search(text)


def caption_key(text: str) -> str:
    """The repeat key of a block without its trailing credit."""
    return repeat_key(split_credit_tail(text)[0])


def repeat_groups(texts: Sequence[str], config: RepeatConfig, caption_keys: Sequence[str] | None = None) -> list[int]:
    """For each block, the index of the first block it repeats (itself when it is no repeat).

    Copies are equal keys after cutting a trailing credit, or one key a prefix of the other when the
    shorter is long enough and covers most of the longer (a caption with text appended).
    `caption_keys` (`caption_key` of each text) may be given when already known.
    """
    keys = [caption_key(t) for t in texts] if caption_keys is None else caption_keys
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)

    first_by_key: dict[str, int] = {}
    for i, key in enumerate(keys):
        if not key:
            continue
        if key in first_by_key:
            union(first_by_key[key], i)
        else:
            first_by_key[key] = i
    # Keys sorted: every key that starts with k follows k directly.
    ordered = sorted(first_by_key)
    for n, short in enumerate(ordered):
        if len(short) < config.near_min_chars:
            continue
        m = n + 1
        while m < len(ordered) and ordered[m].startswith(short):
            if len(short) >= config.near_min_ratio * len(ordered[m]):
                union(first_by_key[short], first_by_key[ordered[m]])
            m += 1
    return [find(i) for i in range(len(texts))]
