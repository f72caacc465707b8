"""Loops compiled with numba, for the few steps where numpy's one-pass-per-operation costs the most.

Importing numba takes 0.5-1.2 s, so callers import this module where they first need it.
Compiled code is cached beside the source (`cache=True`): a process after the first loads it.
`nogil=True` lets two tasks of one process run them on two cores.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt


@numba.njit(cache=True, nogil=True)
def min_permuted(
    mixed: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    a: npt.NDArray[np.uint32],
    b: npt.NDArray[np.uint32],
    out: npt.NDArray[np.uint32],
) -> None:
    """out[t, p] = min over text t's shingles s of (a[p] * mixed[s] + b[p]) mod 2**32; 0xFFFFFFFF for no shingles.

    Text t's shingles are mixed[offsets[t]:offsets[t + 1]]. The loop over permutations is innermost
    and branch-free, so it runs as SIMD over contiguous rows.
    """
    for t in range(offsets.shape[0] - 1):
        row = out[t]
        row[:] = np.uint32(0xFFFFFFFF)
        for s in range(offsets[t], offsets[t + 1]):
            h = mixed[s]
            for p in range(a.shape[0]):
                row[p] = min(row[p], np.uint32(a[p] * h + b[p]))


@numba.njit(cache=True, nogil=True)
def sorted_sets(values: npt.NDArray[np.uint64], offsets: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """Each segment values[offsets[t]:offsets[t + 1]] sorted with repeats dropped, and the new offsets."""
    out = np.empty_like(values)
    new_offsets = np.empty_like(offsets)
    new_offsets[0] = 0
    k = 0
    for t in range(offsets.shape[0] - 1):
        segment = np.sort(values[offsets[t] : offsets[t + 1]])
        for x in range(segment.shape[0]):
            if x == 0 or segment[x] != segment[x - 1]:
                out[k] = segment[x]
                k += 1
        new_offsets[t + 1] = k
    return out[:k], new_offsets


@numba.njit(cache=True, nogil=True)
def pair_jaccard(sets: npt.NDArray[np.uint64], offsets: npt.NDArray[np.int64], pairs: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """|A & B| / |A | B| of the `sorted_sets` segments of each pair (0.0 when both are empty), by one merge walk."""
    out = np.empty(pairs.shape[0], dtype=np.float64)
    for k in range(pairs.shape[0]):
        i, j = pairs[k, 0], pairs[k, 1]
        a, a_end, b, b_end = offsets[i], offsets[i + 1], offsets[j], offsets[j + 1]
        inter = 0
        while a < a_end and b < b_end:
            if sets[a] == sets[b]:
                inter += 1
                a += 1
                b += 1
            elif sets[a] < sets[b]:
                a += 1
            else:
                b += 1
        union = (offsets[i + 1] - offsets[i]) + (offsets[j + 1] - offsets[j]) - inter
        out[k] = inter / union if union else 0.0
    return out


@numba.njit(cache=True, nogil=True)
def title_jaccard(
    ids: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    page: npt.NDArray[np.int64],
    title_ids: npt.NDArray[np.int64],
    title_offsets: npt.NDArray[np.int64],
    vocabulary: int,
) -> npt.NDArray[np.float64]:
    """|A & B| / |A | B| of each text's distinct word ids (A) and those of its page's title (B); 0.0 when both are empty.

    Text t is ids[offsets[t]:offsets[t + 1]], its page's title title_ids[title_offsets[p]:title_offsets[p + 1]]
    with p = page[t]; every id is below `vocabulary`. One pass, marking words by text and by page.
    """
    pages = title_offsets.shape[0] - 1
    mark = np.full(vocabulary, -1, dtype=np.int64)
    title_size = np.zeros(pages, dtype=np.int64)
    for p in range(pages):
        for k in range(title_offsets[p], title_offsets[p + 1]):
            if mark[title_ids[k]] != p:
                mark[title_ids[k]] = p
                title_size[p] += 1
    in_title = np.full(vocabulary, -1, dtype=np.int64)  # the page whose title last marked the word
    seen = np.full(vocabulary, -1, dtype=np.int64)  # the text the word was last counted in
    out = np.empty(offsets.shape[0] - 1, dtype=np.float64)
    current = -1
    for t in range(offsets.shape[0] - 1):
        p = page[t]
        if p != current:
            for k in range(title_offsets[p], title_offsets[p + 1]):
                in_title[title_ids[k]] = p
            current = p
        distinct = 0
        inter = 0
        for k in range(offsets[t], offsets[t + 1]):
            w = ids[k]
            if seen[w] != t:
                seen[w] = t
                distinct += 1
                if in_title[w] == p:
                    inter += 1
        union = distinct + title_size[p] - inter
        out[t] = inter / union if union else 0.0
    return out


@numba.njit(cache=True, nogil=True)
def split_words(
    chars: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], space: np.uint8
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Words of texts whose words are separated by `space` bytes: their bytes back to back, word offsets, words per text.

    Text t is chars[offsets[t]:offsets[t + 1]]; a word never runs from one text into the next.
    """
    n = offsets.shape[0] - 1
    counts = np.zeros(n, dtype=np.int64)
    total_bytes = 0
    # No branch per byte (a word's start or end is a coin flip to the CPU): the sizes are sums of
    # comparisons, every byte is stored and the output advances only past word bytes.
    for t in range(n):  # first pass: sizes, so nothing is allocated for the worst case
        starts = 0
        prev = 0
        for i in range(offsets[t], offsets[t + 1]):
            inside = int(chars[i] != space)
            total_bytes += inside
            starts += inside & (1 - prev)
            prev = inside
        counts[t] = starts
    total_words = int(counts.sum())
    words = np.empty(total_bytes + 1, dtype=np.uint8)  # one spare byte: the store before the advance
    word_offsets = np.empty(total_words + 2, dtype=np.int64)  # one spare slot, likewise
    word_offsets[0] = 0
    k = 0
    w = 0
    for t in range(n):
        prev = 0
        for i in range(offsets[t], offsets[t + 1]):
            inside = int(chars[i] != space)
            words[k] = chars[i]
            k += inside
            ends = prev & (1 - inside)
            word_offsets[w + 1] = k
            w += ends
            prev = inside
        word_offsets[w + 1] = k
        w += prev
    return words[:total_bytes], word_offsets[: total_words + 1], counts


_SIP = (np.uint64(0x736F6D6570736575), np.uint64(0x646F72616E646F6D), np.uint64(0x6C7967656E657261), np.uint64(0x7465646279746573))


@numba.njit(cache=True, nogil=True, inline="always")
def _rotl(x: np.uint64, b: int) -> np.uint64:
    return (x << np.uint64(b)) | (x >> np.uint64(64 - b))


@numba.njit(cache=True, nogil=True, inline="always")
def _sip_rounds(
    v0: np.uint64, v1: np.uint64, v2: np.uint64, v3: np.uint64, rounds: int
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:
    for _ in range(rounds):
        v0 += v1
        v1 = _rotl(v1, 13) ^ v0
        v0 = _rotl(v0, 32)
        v2 += v3
        v3 = _rotl(v3, 16) ^ v2
        v0 += v3
        v3 = _rotl(v3, 21) ^ v0
        v2 += v1
        v1 = _rotl(v1, 17) ^ v2
        v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


@numba.njit(cache=True, nogil=True)
def siphash24(data: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], k0: np.uint64, k1: np.uint64) -> npt.NDArray[np.uint64]:
    """SipHash-2-4 with key (k0, k1) of each byte string data[offsets[t]:offsets[t + 1]] (the reference C's results)."""
    n = offsets.shape[0] - 1
    out = np.empty(n, dtype=np.uint64)
    for t in range(n):
        start, end = offsets[t], offsets[t + 1]
        v0, v1, v2, v3 = k0 ^ _SIP[0], k1 ^ _SIP[1], k0 ^ _SIP[2], k1 ^ _SIP[3]
        i = start
        while i + 8 <= end:
            m = np.uint64(0)
            for j in range(8):
                m |= np.uint64(data[i + j]) << np.uint64(8 * j)
            v3 ^= m
            v0, v1, v2, v3 = _sip_rounds(v0, v1, v2, v3, 2)
            v0 ^= m
            i += 8
        last = np.uint64(end - start) << np.uint64(56)
        for j in range(end - i):
            last |= np.uint64(data[i + j]) << np.uint64(8 * j)
        v3 ^= last
        v0, v1, v2, v3 = _sip_rounds(v0, v1, v2, v3, 2)
        v0 ^= last
        v2 ^= np.uint64(0xFF)
        v0, v1, v2, v3 = _sip_rounds(v0, v1, v2, v3, 4)
        out[t] = v0 ^ v1 ^ v2 ^ v3
    return out


# Bits of a byte's class for `byte_counts`.
WORD_BIT, UPPER_BIT, DIGIT_BIT, TOKEN_BIT, LOWER_BIT, STOP_BIT = 1, 2, 4, 8, 16, 32
BYTE_COUNT_COLUMNS = 9


@numba.njit(cache=True, nogil=True)
def byte_counts(raw: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], classes: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Per text raw[offsets[t]:offsets[t + 1]], by the class bits `classes[byte]`, in one pass: runs of WORD_BIT bytes,
    WORD_BIT bytes, runs of WORD_BIT bytes that start with an UPPER_BIT byte, DIGIT_BIT bytes, runs of TOKEN_BIT bytes,
    UPPER_BIT bytes, LOWER_BIT bytes, STOP_BIT bytes followed by a byte without TOKEN_BIT or by the end, and 1 when
    the first byte is a LOWER_BIT byte.
    """
    n = offsets.shape[0] - 1
    out = np.zeros((n, BYTE_COUNT_COLUMNS), dtype=np.int64)
    # Counts in local variables and bit arithmetic, no branch per byte: writing each count to `out`
    # and branching on every class bit took 2.6 times as long (0.083 against 0.032 s on a partition).
    for t in range(n):
        start, end = offsets[t], offsets[t + 1]
        words = chars = capitalised = digits = tokens = upper = lower = stops = 0
        prev_word = prev_token = prev_stop = 0
        for i in range(start, end):
            bits = int(classes[raw[i]])
            word = int((bits & WORD_BIT) != 0)
            token = int((bits & TOKEN_BIT) != 0)
            up = int((bits & UPPER_BIT) != 0)
            begins = word & (1 - prev_word)
            words += begins
            capitalised += begins & up
            chars += word
            digits += int((bits & DIGIT_BIT) != 0)
            tokens += token & (1 - prev_token)
            upper += up
            lower += int((bits & LOWER_BIT) != 0)
            stops += prev_stop & (1 - token)  # the byte before ended a sentence if this one is white space
            prev_word, prev_token, prev_stop = word, token, int((bits & STOP_BIT) != 0)
        out[t, 0], out[t, 1], out[t, 2], out[t, 3], out[t, 4] = words, chars, capitalised, digits, tokens
        out[t, 5], out[t, 6], out[t, 7] = upper, lower, stops + prev_stop
        if end > start and classes[raw[start]] & LOWER_BIT:
            out[t, 8] = 1
    return out


@numba.njit(cache=True, nogil=True)
def best_spans(score: npt.NDArray[np.float64], starts: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per segment score[starts[p]:starts[p + 1]]: the (first, last) local index of its span of largest sum (Kadane).

    The first span reaching the largest sum wins; an empty segment gives (0, -1).
    """
    n = starts.shape[0] - 1
    first = np.zeros(n, dtype=np.int64)
    last = np.full(n, -1, dtype=np.int64)
    for p in range(n):
        best = -np.inf
        run = 0.0
        start = 0
        for i in range(starts[p + 1] - starts[p]):
            if run <= 0:
                run = 0.0
                start = i
            run += score[starts[p] + i]
            if run > best:
                best = run
                first[p] = start
                last[p] = i
    return first, last


@numba.njit(cache=True, nogil=True)
def window_means(
    values: npt.NDArray[np.float64], page_start: npt.NDArray[np.int64], page_end: npt.NDArray[np.int64], w: int, at: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Mean of values[i-w .. i+w] clipped to [page_start[i], page_end[i]], for each i in `at`.

    Each window is summed on its own, left to right: a mean depends on its window's values alone,
    never on what precedes the page (a running sum over the frame made it depend on the partition).
    """
    out = np.empty(at.shape[0], dtype=np.float64)
    for k in range(at.shape[0]):
        i = at[k]
        lo = max(i - w, page_start[i])
        hi = min(i + w, page_end[i])
        total = 0.0
        for j in range(lo, hi + 1):
            total += values[j]
        out[k] = total / (hi - lo + 1)
    return out


@numba.njit(cache=True, nogil=True)
def join_words(
    raw: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], table: npt.NDArray[np.uint8], space: np.uint8
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Each text's bytes mapped by `table`, runs of `space` folded to one and trimmed: the new bytes and offsets."""
    n = offsets.shape[0] - 1
    out = np.empty(raw.shape[0], dtype=np.uint8)
    new_offsets = np.empty(n + 1, dtype=np.int64)
    new_offsets[0] = 0
    k = 0
    for t in range(n):
        begin = k
        gap = False
        for i in range(offsets[t], offsets[t + 1]):
            mapped = table[raw[i]]
            if mapped == space:
                gap = True
            else:
                if gap and k > begin:
                    out[k] = space
                    k += 1
                gap = False
                out[k] = mapped
                k += 1
        new_offsets[t + 1] = k
    return out[:k], new_offsets


# Items per radix partition when grouping band keys: a partition's hash table then stays in cache.
_ITEMS_PER_PARTITION = 2048
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(cache=True, nogil=True)
def _append_pair(pairs: npt.NDArray[np.int64], size: int, i: int, j: int) -> npt.NDArray[np.int64]:
    if size == pairs.shape[0]:
        grown = np.empty((2 * pairs.shape[0], 2), dtype=np.int64)
        grown[:size] = pairs[:size]
        pairs = grown
    pairs[size, 0] = i
    pairs[size, 1] = j
    return pairs


@numba.njit(cache=True, nogil=True)
def shared_key_pairs(keys: npt.NDArray[np.uint64], window: int) -> npt.NDArray[np.int64]:
    """(i, j) positions, i < j, whose keys (columns x positions) are equal in some column, each paired with up to `window` next ones.

    Within one column's run of equal keys the positions are in ascending order, and each is paired
    with the following `window` positions of the run (a pair may come out once per shared column).
    Each column is radix-partitioned by the keys' top bits first (positions and keys copied side by
    side), so every hash table is small and every read sequential.
    """
    columns, n = keys.shape
    bits = 0
    while (n >> bits) > _ITEMS_PER_PARTITION:
        bits += 1
    parts = 1 << bits
    pairs = np.empty((max(16, n), 2), dtype=np.int64)
    size = 0
    order = np.empty(n, dtype=np.int64)
    ordered_keys = np.empty(n, dtype=np.uint64)
    starts = np.empty(parts + 1, dtype=np.int64)
    fill = np.empty(parts, dtype=np.int64)
    # The hash table, grown to fit the largest partition met so far.
    table_keys = np.empty(0, dtype=np.uint64)
    head = np.empty(0, dtype=np.int64)
    tail = np.empty(0, dtype=np.int64)
    count = np.empty(0, dtype=np.int64)
    following = np.empty(n, dtype=np.int64)
    members = np.empty(n, dtype=np.int64)
    top = np.uint64(64 - bits)
    for c in range(columns):
        column = keys[c]
        starts[:] = 0
        for i in range(n):
            starts[(np.int64(column[i] >> top) if bits else 0) + 1] += 1
        for p in range(parts):
            starts[p + 1] += starts[p]
        fill[:] = starts[:parts]
        for i in range(n):
            part = np.int64(column[i] >> top) if bits else 0
            order[fill[part]] = i
            ordered_keys[fill[part]] = column[i]
            fill[part] += 1
        for p in range(parts):
            lo, hi = starts[p], starts[p + 1]
            if hi - lo < 2:
                continue
            used_bits = 1  # at most half full
            while (1 << used_bits) < 2 * (hi - lo):
                used_bits += 1
            used = 1 << used_bits
            if used > table_keys.shape[0]:
                table_keys = np.empty(used, dtype=np.uint64)
                head = np.empty(used, dtype=np.int64)
                tail = np.empty(used, dtype=np.int64)
                count = np.empty(used, dtype=np.int64)
            count[:used] = 0
            mask = used - 1
            shift = np.uint64(64 - used_bits)  # the product's top used_bits bits pick the slot
            for k in range(lo, hi):
                key = ordered_keys[k]
                slot = np.int64((key * _GOLDEN) >> shift)
                while count[slot] and table_keys[slot] != key:
                    slot = (slot + 1) & mask
                following[k] = -1
                if count[slot]:
                    following[tail[slot]] = k
                    tail[slot] = k
                    count[slot] += 1
                else:
                    table_keys[slot] = key
                    head[slot] = k
                    tail[slot] = k
                    count[slot] = 1
            for s in range(used):
                if count[s] < 2:
                    continue
                g = 0
                k = head[s]
                while k != -1:
                    members[g] = order[k]
                    g += 1
                    k = following[k]
                for a in range(g - 1):
                    for b in range(a + 1, min(g, a + 1 + window)):
                        pairs = _append_pair(pairs, size, members[a], members[b])
                        size += 1
    return pairs[:size]


@numba.njit(cache=True, nogil=True)
def fold_shingles(
    word_hashes: npt.NDArray[np.uint64], word_counts: npt.NDArray[np.int64], k: int, fold: np.uint64
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """Every text's shingle hashes, concatenated, and each text's offset into them (n + 1 offsets).

    Text t's words are the next word_counts[t] word hashes. A shingle folds k consecutive word hashes
    as h = h * fold + w (mod 2**64); a text of 1..k-1 words is one shingle of all of them, and a text
    of none has no shingle.
    """
    n = word_counts.shape[0]
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    for t in range(n):
        c = word_counts[t]
        offsets[t + 1] = offsets[t] + (c - k + 1 if c >= k else min(c, 1))
    out = np.empty(offsets[n], dtype=np.uint64)
    start = 0
    for t in range(n):
        c = word_counts[t]
        width = min(c, k)
        for s in range(offsets[t + 1] - offsets[t]):
            h = np.uint64(0)
            for m in range(width):
                h = h * fold + word_hashes[start + s + m]
            out[offsets[t] + s] = h
        start += c
    return out, offsets


# LightGBM's kZeroThreshold (1e-35f, as a double): its predict drops dense values this close to 0, which then count as 0.
_LIGHTGBM_ZERO = float(np.float32(1e-35))


@numba.njit(cache=True, nogil=True)
def tree_ensemble_scores(
    x: npt.NDArray[np.float64],
    root: npt.NDArray[np.int32],
    feature: npt.NDArray[np.int32],
    threshold: npt.NDArray[np.float64],
    left: npt.NDArray[np.int32],
    right: npt.NDArray[np.int32],
    leaf_value: npt.NDArray[np.float64],
    sigmoid: float,
) -> npt.NDArray[np.float64]:
    """Sigmoid of the sum of each row's leaf values, tree by tree in order (child < 0: leaf ~child; a tree's root may be a leaf).

    A split sends a value to the left when it is <= the threshold. As in LightGBM's predict for
    splits without missing-value handling, NaN and values within its zero threshold count as 0.
    """
    n, trees = x.shape[0], root.shape[0]
    out = np.empty(n)
    for i in range(n):
        raw = 0.0
        for t in range(trees):
            node = root[t]
            while node >= 0:
                v = x[i, feature[t, node]]
                if np.isnan(v) or abs(v) <= _LIGHTGBM_ZERO:
                    v = 0.0
                # Arithmetic, not a branch: the CPU cannot predict the direction, and a branch took twice as long.
                go_right = np.int32(v > threshold[t, node])
                node = left[t, node] + go_right * (right[t, node] - left[t, node])
            raw += leaf_value[t, ~node]
        out[i] = 1.0 / (1.0 + np.exp(-sigmoid * raw))
    return out


def precompile() -> None:
    """Run every loop once on tiny inputs: numba compiles and caches them (about 30 s here), or loads its cache (under 1 s)."""
    u32 = np.arange(1, 4, dtype=np.uint32)
    offsets = np.array([0, 2, 3], dtype=np.int64)
    min_permuted(u32, offsets, u32, u32, np.empty((2, 3), dtype=np.uint32))
    split_words(np.frombuffer(b"ab c", dtype=np.uint8).copy(), np.array([0, 4], dtype=np.int64), np.uint8(0x20))
    sets, set_offsets = sorted_sets(u32.astype(np.uint64), offsets)
    pair_jaccard(sets, set_offsets, np.array([[0, 1]], dtype=np.int64))
    title_jaccard(np.arange(3, dtype=np.int64), offsets, np.zeros(2, dtype=np.int64), np.arange(2, dtype=np.int64), np.array([0, 2]), 3)
    shared_key_pairs(np.zeros((2, 3), dtype=np.uint64), 4)
    best_spans(np.zeros(3), offsets)
    window_means(np.zeros(3), np.zeros(3, dtype=np.int64), np.full(3, 2, dtype=np.int64), 1, np.arange(3, dtype=np.int64))
    siphash24(np.frombuffer(b"ab c", dtype=np.uint8).copy(), np.array([0, 4], dtype=np.int64), np.uint64(1), np.uint64(2))
    join_words(
        np.frombuffer(b"ab c", dtype=np.uint8).copy(), np.array([0, 4], dtype=np.int64), np.zeros(256, dtype=np.uint8), np.uint8(0x20)
    )
    byte_counts(np.frombuffer(b"ab c", dtype=np.uint8).copy(), np.array([0, 4], dtype=np.int64), np.zeros(256, dtype=np.uint8))
    fold_shingles(u32.astype(np.uint64), np.array([2, 1], dtype=np.int64), 5, np.uint64(3))
    tree = np.zeros((1, 1), dtype=np.int32)
    tree_ensemble_scores(np.zeros((1, 1)), np.zeros(1, dtype=np.int32), tree, np.zeros((1, 1)), tree - 1, tree - 1, np.zeros((1, 1)), 1.0)
    text = np.frombuffer(b"ab c", dtype=np.uint8).copy()
    one = np.array([0, 4], dtype=np.int64)
    yes, count = np.ones(1, dtype=np.bool_), np.ones(1, dtype=np.int64)
    clean_decisions(
        np.zeros(1, dtype=np.int64), count, text, one, yes, text, one, count, count, text, one, count,
        np.zeros(1, dtype=np.int8), yes, yes, count, yes, count, 60, 3, 8, 30, 0.8,
    )  # fmt: skip


# The in-document cleaner's decisions, per block (transforms.clean.clean_columns is the definition;
# transforms.tables.clean_documents applies this loop to a whole partition and builds the rows).
UNDECIDED, ACT_TITLE, ACT_CAPTION, ACT_CREDIT, ACT_BYLINE = -1, 1, 2, 3, 4
ACT_TITLE_REPEAT, ACT_RULE, ACT_BYLINE_REPEAT, ACT_CAPTION_REPEAT, ACT_BLOCK_REPEAT, ACT_SITE_CHROME, ACT_BEFORE_TITLE = (
    5,
    6,
    7,
    8,
    9,
    10,
    11,
)
HIT_NONE, HIT_REMOVE, HIT_CREDIT, HIT_BYLINE = 0, 1, 2, 3


@numba.njit(cache=True, nogil=True, inline="always")
def _same_bytes(data: npt.NDArray[np.uint8], a: int, b: int, n: int) -> bool:
    for k in range(n):  # noqa: SIM110  (a loop numba compiles; all() over a generator it does not)
        if data[a + k] != data[b + k]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _wraps_key(
    data: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], chars: npt.NDArray[np.int64], words: npt.NDArray[np.int64], w: int, k: int
) -> bool:
    """clean._wraps(key of w, key of k) on the keys' UTF-8 bytes: key k plus a site name before or after it is key w."""
    if chars[k] >= chars[w] or words[k] < 2 or chars[k] < 0.3 * chars[w]:
        return False
    kb, kn = offsets[k], offsets[k + 1] - offsets[k]
    wb, wn = offsets[w], offsets[w + 1] - offsets[w]
    if wn < kn + 1:
        return False
    if data[wb + kn] == 0x20 and _same_bytes(data, wb, kb, kn):
        return True
    return data[wb + wn - kn - 1] == 0x20 and _same_bytes(data, wb + wn - kn, kb, kn)


@numba.njit(cache=True, nogil=True, inline="always")
def _same_key(
    data_a: npt.NDArray[np.uint8],
    offsets_a: npt.NDArray[np.int64],
    a: int,
    data_b: npt.NDArray[np.uint8],
    offsets_b: npt.NDArray[np.int64],
    b: int,
) -> bool:
    n = offsets_a[a + 1] - offsets_a[a]
    if offsets_b[b + 1] - offsets_b[b] != n:
        return False
    start_a, start_b = offsets_a[a], offsets_b[b]
    for k in range(n):  # noqa: SIM110  (as in _same_bytes)
        if data_a[start_a + k] != data_b[start_b + k]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _key_order(data: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], a: int, b: int) -> int:
    """-1, 0 or 1 as text a sorts before, with or after text b: UTF-8 bytes order as the code points do."""
    na, nb = offsets[a + 1] - offsets[a], offsets[b + 1] - offsets[b]
    for k in range(min(na, nb)):
        x, y = data[offsets[a] + k], data[offsets[b] + k]
        if x != y:
            return -1 if x < y else 1
    return -1 if na < nb else (1 if na > nb else 0)


@numba.njit(cache=True, nogil=True)
def _sorted_by_key(items: npt.NDArray[np.int64], data: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """`items` (text indices) stably sorted by their texts: a bottom-up merge sort."""
    n = items.shape[0]
    src = items.copy()
    dst = np.empty_like(src)
    width = 1
    while width < n:
        for lo in range(0, n, 2 * width):
            mid, hi = min(lo + width, n), min(lo + 2 * width, n)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                if _key_order(data, offsets, src[j], src[i]) < 0:
                    dst[k] = src[j]
                    j += 1
                else:
                    dst[k] = src[i]
                    i += 1
                k += 1
            while i < mid:
                dst[k] = src[i]
                i += 1
                k += 1
            while j < hi:
                dst[k] = src[j]
                j += 1
                k += 1
        src, dst = dst, src
        width *= 2
    return src


@numba.njit(cache=True, nogil=True)
def _root(parent: npt.NDArray[np.int64], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@numba.njit(cache=True, nogil=True)
def _union(parent: npt.NDArray[np.int64], i: int, j: int) -> None:
    ri, rj = _root(parent, i), _root(parent, j)
    if ri != rj:
        parent[max(ri, rj)] = min(ri, rj)


@numba.njit(cache=True, nogil=True)
def _repeat_groups(
    s: int,
    e: int,
    data: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    chars: npt.NDArray[np.int64],
    near_min_chars: int,
    near_min_ratio: float,
) -> npt.NDArray[np.int64]:
    """repeats.repeat_groups of blocks s..e-1 (local indices), from their caption keys' UTF-8 bytes and lengths."""
    n = e - s
    parent = np.arange(n)
    nonempty = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(s, e):
        if offsets[i + 1] > offsets[i]:
            nonempty[m] = i
            m += 1
    order = _sorted_by_key(nonempty[:m], data, offsets)
    distinct = np.empty(m, dtype=np.int64)  # the first block of each distinct key, in key order
    k = 0
    for i in order:
        if k and _same_key(data, offsets, distinct[k - 1], data, offsets, i):
            _union(parent, distinct[k - 1] - s, i - s)
        else:
            distinct[k] = i
            k += 1
    for a in range(k):
        short = distinct[a]
        if chars[short] < near_min_chars:
            continue
        sb, sn = offsets[short], offsets[short + 1] - offsets[short]
        for b in range(a + 1, k):
            long = distinct[b]
            if offsets[long + 1] - offsets[long] < sn or not _same_bytes(data, offsets[long], sb, sn):
                break
            if chars[short] >= near_min_ratio * chars[long]:
                _union(parent, short - s, long - s)
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i] = _root(parent, i)
    return out


@numba.njit(cache=True, nogil=True)
def clean_decisions(
    starts: npt.NDArray[np.int64],
    stops: npt.NDArray[np.int64],
    given_data: npt.NDArray[np.uint8],
    given_offsets: npt.NDArray[np.int64],
    has_given: npt.NDArray[np.bool_],
    key_data: npt.NDArray[np.uint8],
    key_offsets: npt.NDArray[np.int64],
    key_chars: npt.NDArray[np.int64],
    key_words: npt.NDArray[np.int64],
    caption_data: npt.NDArray[np.uint8],
    caption_offsets: npt.NDArray[np.int64],
    caption_chars: npt.NDArray[np.int64],
    hit_role: npt.NDArray[np.int8],
    in_chrome: npt.NDArray[np.bool_],
    title_like: npt.NDArray[np.bool_],
    word_counts: npt.NDArray[np.int64],
    has_tail: npt.NDArray[np.bool_],
    text_chars: npt.NDArray[np.int64],
    search_blocks: int,
    title_min_words: int,
    before_title_max_words: int,
    near_min_chars: int,
    near_min_ratio: float,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """`clean.clean_columns`' decisions up to its closing bare-name byline, for documents of blocks starts[d]..stops[d]-1.

    Keys (repeat keys, caption keys, given titles' keys) are UTF-8 bytes with offsets. Per block: the
    action (UNDECIDED, ACT_*) and the block a repeat refers to (the caption kept, the fullest copy,
    the first byline), else -1. Per document: the title block and the byline block (-1 for none),
    and the last undecided block when another undecided block comes before it (-1 otherwise).
    """
    total = key_offsets.shape[0] - 1
    action = np.full(total, UNDECIDED, dtype=np.int8)
    ref = np.full(total, -1, dtype=np.int64)
    docs = starts.shape[0]
    title_at = np.full(docs, -1, dtype=np.int64)
    byline_at = np.full(docs, -1, dtype=np.int64)
    last_open = np.full(docs, -1, dtype=np.int64)
    seen = np.empty(max(search_blocks, 1), dtype=np.int64)
    for d in range(docs):
        s, e = starts[d], stops[d]
        n = e - s
        if n == 0:
            continue
        groups = _repeat_groups(s, e, caption_data, caption_offsets, caption_chars, near_min_chars, near_min_ratio)
        # The title and its copies: blocks whose key is that of the given title, or of copy_a or copy_b.
        title = -1
        copy_a = -1
        copy_b = -1
        if has_given[d]:
            for i in range(s, e):
                if _same_key(key_data, key_offsets, i, given_data, given_offsets, d):
                    action[i] = ACT_TITLE_REPEAT
        else:
            found = False
            m = 0
            for i in range(s, min(e, s + search_blocks)):
                if hit_role[i] != HIT_NONE or in_chrome[i] or not title_like[i]:
                    continue
                for x in range(m):
                    if _same_key(key_data, key_offsets, seen[x], key_data, key_offsets, i):
                        title = seen[x]
                        copy_a = title
                        found = True
                        break
                if found:
                    break
                seen[m] = i
                m += 1
                for x in range(m):
                    w = seen[x]
                    if w != i and _wraps_key(key_data, key_offsets, key_chars, key_words, w, i):
                        title = i
                        copy_a = i
                        copy_b = w
                        found = True
                        break
                if found:
                    break
            if not found and m:
                title = seen[0]
                for x in range(m):
                    if key_words[seen[x]] >= title_min_words:
                        title = seen[x]
                        break
            if title >= 0:
                title_at[d] = title
                for i in range(s, e):
                    if i == title:
                        action[i] = ACT_TITLE
                    elif (copy_a >= 0 and _same_key(key_data, key_offsets, i, key_data, key_offsets, copy_a)) or (
                        copy_b >= 0 and _same_key(key_data, key_offsets, i, key_data, key_offsets, copy_b)
                    ):
                        action[i] = ACT_TITLE_REPEAT
        # News-chrome rules.
        for i in range(s, e):
            if action[i] != UNDECIDED or hit_role[i] == HIT_NONE:
                continue
            if hit_role[i] == HIT_CREDIT:
                action[i] = ACT_CREDIT
            elif hit_role[i] == HIT_BYLINE and byline_at[d] < 0:
                action[i] = ACT_BYLINE
                byline_at[d] = i
            elif hit_role[i] == HIT_BYLINE:
                action[i] = ACT_BYLINE_REPEAT
                ref[i] = byline_at[d]
            else:
                action[i] = ACT_RULE
        # Copies among the blocks still open: each group's open members chained in block order.
        head = np.full(n, -1, dtype=np.int64)
        tail = np.full(n, -1, dtype=np.int64)
        chained = np.full(n, -1, dtype=np.int64)
        size = np.zeros(n, dtype=np.int64)
        for i in range(n):
            if action[s + i] != UNDECIDED:
                continue
            g = groups[i]
            if size[g] == 0:
                head[g] = i
            else:
                chained[tail[g]] = i
            tail[g] = i
            size[g] += 1
        for g in range(n):
            if size[g] < 2:
                continue
            caption = False
            i = head[g]
            while i >= 0:
                if has_tail[s + i] or (i + 1 < n and hit_role[s + i + 1] == HIT_CREDIT):
                    caption = True
                i = chained[i]
            if caption:
                first = s + head[g]
                action[first] = ACT_CAPTION
                i = chained[head[g]]
                while i >= 0:
                    action[s + i] = ACT_CAPTION_REPEAT
                    ref[s + i] = first
                    i = chained[i]
            else:
                keep = head[g]  # the fullest copy, the first of those
                i = chained[head[g]]
                while i >= 0:
                    if text_chars[s + i] > text_chars[s + keep]:
                        keep = i
                    i = chained[i]
                i = head[g]
                while i >= 0:
                    if i != keep:
                        action[s + i] = ACT_BLOCK_REPEAT
                        ref[s + i] = s + keep
                    i = chained[i]
        # Site chrome, then short navigation before the title.
        for i in range(s, e):
            if action[i] == UNDECIDED and key_offsets[i + 1] > key_offsets[i] and in_chrome[i]:
                action[i] = ACT_SITE_CHROME
        if title >= 0 and before_title_max_words:
            for i in range(s, title):
                if action[i] == UNDECIDED and word_counts[i] <= before_title_max_words:
                    action[i] = ACT_BEFORE_TITLE
        if byline_at[d] < 0:
            open_blocks = 0
            last = -1
            for i in range(s, e):
                if action[i] == UNDECIDED:
                    open_blocks += 1
                    last = i
            if open_blocks >= 2:
                last_open[d] = last
    return action, ref, title_at, byline_at, last_open
