"""Word-shingle MinHash signatures computed with numpy, bit-for-bit equal to datasketch's.

Scheme (datasketch 2.0 "affine32", seed 1, 128 permutations): a text's words are lowercase `\\w+`
tokens; a shingle is `shingle_size` consecutive words (a shorter text is one shingle of all its
words). Each word is hashed with pandas' SipHash (`pd.util.hash_array`); a shingle's 64-bit hash
folds its word hashes polynomially, and its 32-bit hash is the high half xor the low half.
datasketch then applies the MurmurHash3 finalizer and `a*h + b mod 2**32`, and keeps the minimum.
`datasketch_hashfunc` is that shingle hash as a function of the shingle's bytes, so
`datasketch.MinHash(num_perm=128, seed=1, hashfunc=datasketch_hashfunc)` fed the same shingles
gives the same hash values, and `MinHash(hashvalues=sig, scheme="affine32", seed=1)` rebuilds one.
Words are found without a Python object per word (a byte table over the texts' UTF-8 buffer; the
regex only for texts with letters or digits outside ASCII); the permutations and minima run in one
compiled loop (transforms.kernels).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from transforms.bulk import NOT_PLAIN_WORDS, SPACE, WORD_BYTES, utf8_buffer

SCHEME = "affine32"
_WORD = re.compile(r"\w+")
_FOLD = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier of the polynomial fold (golden ratio)
U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]


@dataclass(frozen=True)
class MinHashConfig:
    """Signature settings; the defaults are what newsclean stores."""

    num_perm: int = 128
    shingle_size: int = 5
    seed: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.num_perm <= 4096:
            raise ValueError("num_perm must be in [1, 4096]")
        if not 1 <= self.shingle_size <= 32:
            raise ValueError("shingle_size must be in [1, 32]")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")


def tokenize(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[U32, U32]:
    """datasketch 2.0's affine32 (a, b), drawn as it draws them (a test checks them against `MinHash.permutations`).

    Not taken from datasketch itself: importing it (scipy.integrate with it) costs about 0.9 s of every run's start-up.
    """
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


# pandas' hash key for `pd.util.hash_array` ("0123456789123456"), as SipHash's two 64-bit key words.
_PANDAS_KEY = (np.uint64(int.from_bytes(b"01234567", "little")), np.uint64(int.from_bytes(b"89123456", "little")))


def _word_hashes_of(words: pa.Array) -> U64:
    """pandas' hash of each word (`pd.util.hash_array`: SipHash-2-4, then a mixing step).

    A compiled SipHash reads the words' UTF-8 bytes in place, with no Python string per word; hashing
    every word costs less than finding the distinct ones first (tests/transforms/test_minhash.py
    checks the values against pandas).
    """
    from transforms.kernels import siphash24

    raw, offsets = utf8_buffer(words)
    h = siphash24(raw, np.ascontiguousarray(offsets, dtype=np.int64), *_PANDAS_KEY)
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


def _word_hashes(words: list[str]) -> U64:
    return _word_hashes_of(pa.array(words, type=pa.string()))


def words_of(texts: Sequence[str] | pa.Array) -> tuple[pa.Array, npt.NDArray[np.int64]]:
    """Every text's `tokenize` words, concatenated, and each text's word count, without a Python object per word.

    Plain texts (see transforms.bulk: ASCII, plus punctuation and symbols, which are never part of
    a word) are lowercased and split by a byte table; the few texts with other characters go
    through `tokenize` itself, so both paths give exactly `\\w+` on the lowercased text.
    """
    from transforms.kernels import split_words  # numba's import is paid where signatures are made

    array = texts if isinstance(texts, pa.Array) else pa.array(list(texts), type=pa.large_string())
    raw, offsets = utf8_buffer(array)
    # Curly quotes and dashes are most of the non-ASCII characters in news text: in a plain text every
    # one is a word break, which the byte map makes a space, so the text stays on the byte path.
    mapped = WORD_BYTES[raw]
    others = np.unique(np.searchsorted(offsets, np.flatnonzero(raw >= 0x80), side="right") - 1)
    if len(others):
        not_plain = pc.match_substring_regex(array.take(pa.array(others, pa.int64())), NOT_PLAIN_WORDS).to_numpy(zero_copy_only=False)
        others = others[not_plain]
    if len(others):
        # Rebuild the stream with those texts as their words joined by spaces (a space never sits inside a UTF-8 character).
        pieces: list[npt.NDArray[np.uint8]] = []
        lengths = np.diff(offsets).copy()
        done = 0
        for t in others.tolist():
            pieces.append(mapped[offsets[done] : offsets[t]])
            text = raw[offsets[t] : offsets[t + 1]].tobytes().decode("utf-8")
            joined = np.frombuffer(" ".join(tokenize(text)).encode("utf-8"), dtype=np.uint8)
            pieces.append(joined)
            lengths[t] = len(joined)
            done = t + 1
        pieces.append(mapped[offsets[done] :])
        mapped = np.concatenate(pieces)
        offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    chars, word_offsets, counts = split_words(mapped, np.ascontiguousarray(offsets, dtype=np.int64), np.uint8(SPACE))
    words = pa.LargeStringArray.from_buffers(len(word_offsets) - 1, pa.py_buffer(word_offsets), pa.py_buffer(chars))
    return words, counts


def _fold32(h: U64) -> U32:
    return ((h >> np.uint64(32)) ^ (h & np.uint64(0xFFFFFFFF))).astype(np.uint32)


def _fmix32(h: U32) -> U32:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _hashed_words(texts: Sequence[str] | pa.Array) -> tuple[U64, npt.NDArray[np.int64]]:
    """Every text's word hashes, concatenated, and each text's word count."""
    words, lengths = words_of(texts)
    return _word_hashes_of(words), np.ascontiguousarray(lengths, dtype=np.int64)


def shingle_hashes(texts: Sequence[str] | pa.Array, shingle_size: int) -> tuple[U64, npt.NDArray[np.int64]]:
    """All shingle hashes of all texts, concatenated, and each text's offset into them (n + 1 offsets)."""
    from transforms.kernels import fold_shingles

    return fold_shingles(*_hashed_words(texts), shingle_size, _FOLD)


def shingle_hashes_and_joined(
    texts: Sequence[str] | pa.Array, group: npt.NDArray[np.int64], groups: int, shingle_size: int
) -> tuple[tuple[U64, npt.NDArray[np.int64]], tuple[U64, npt.NDArray[np.int64]]]:
    """`shingle_hashes` of the texts, and of each group's texts joined by white space, from one pass over the words.

    `group[t]` is the joined text (0 <= group < groups) that text t belongs to, in the order of the
    texts. A join by white space neither makes nor splits a word, and lowercasing never looks
    across white space (final sigma, the one mapping that reads context, stops at it), so a joined
    text's words are its parts' words end to end.
    """
    from transforms.kernels import fold_shingles

    hashes, lengths = _hashed_words(texts)
    order = np.argsort(group, kind="stable")
    starts = (np.cumsum(lengths) - lengths)[order]
    counts = lengths[order]
    # Word indexes of the texts in group order: starts[i], starts[i] + 1, ... for each text.
    index = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(starts - (np.cumsum(counts) - counts), counts)
    joined_counts = np.bincount(group, weights=lengths, minlength=groups).astype(np.int64)
    own = fold_shingles(hashes, lengths, shingle_size, _FOLD)
    return own, fold_shingles(hashes[index], joined_counts, shingle_size, _FOLD)


def signatures_from_shingles(hashes: U64, offsets: npt.NDArray[np.int64], config: MinHashConfig) -> U32:
    """MinHash signatures (n x num_perm, uint32) from concatenated shingle hashes (offsets: n + 1)."""
    from transforms.kernels import min_permuted  # numba's import is paid where signatures are made

    n = len(offsets) - 1
    a, b = permutations(config.num_perm, config.seed)
    out = np.empty((n, config.num_perm), dtype=np.uint32)
    min_permuted(_fmix32(_fold32(hashes)), np.ascontiguousarray(offsets, dtype=np.int64), a, b, out)
    return out


def signatures(texts: Sequence[str], config: MinHashConfig) -> U32:
    hashes, offsets = shingle_hashes(texts, config.shingle_size)
    return signatures_from_shingles(hashes, offsets, config)


def datasketch_hashfunc(shingle: bytes) -> int:
    """The 32-bit hash newsclean gives a shingle, as a datasketch `hashfunc` (shingle = words joined by spaces)."""
    wh = _word_hashes(shingle.decode("utf-8").split(" "))
    h = wh[0]
    with np.errstate(over="ignore"):
        for w in wh[1:]:
            h = h * _FOLD + w
    return int(_fold32(np.asarray([h], dtype=np.uint64))[0])


def shingles_as_bytes(text: str, shingle_size: int) -> list[bytes]:
    """The shingles of a text in the form `datasketch_hashfunc` takes (for checks and interop)."""
    toks = tokenize(text)
    if not toks:
        return []
    if len(toks) < shingle_size:
        return [" ".join(toks).encode()]
    return [" ".join(toks[i : i + shingle_size]).encode() for i in range(len(toks) - shingle_size + 1)]
