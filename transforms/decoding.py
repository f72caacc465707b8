"""Turning the bytes of a raw file into text, or into a reason why it cannot be read."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

import ftfy

# Leading bytes of common binary formats a crawler may save under a text name.
_BINARY_SIGNATURES: tuple[bytes, ...] = (
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"%PDF",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"BZh",
    b"\x7fELF",
    b"RIFF",
    b"OggS",
    b"\x00\x00\x01\x00",
)
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# A UTF-8 lead byte read as Latin-1/cp1252 followed by a continuation byte read the same way: the
# shape of mojibake. A cheap pre-check, because ftfy's own detection runs at ~4 MB/s.
_MOJIBAKE_HINT = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)
# The hint's first character is one of U+00C2..U+00F4, which UTF-8 writes as C3 82..C3 B4. In bytes
# read as UTF-8, that byte pair is searched for first: a literal-prefix scan at ~1 GB/s, where the
# hint's search of the text ran at ~110 MB/s, holding the GIL, for every file without mojibake.
_MOJIBAKE_LEAD_UTF8 = re.compile(rb"\xc3[\x82-\xb4]")
# Share of NUL or other C0 control bytes above which undecorated bytes are taken as binary.
_MAX_CONTROL_SHARE = 0.01


@dataclass(frozen=True)
class Decoded:
    """Text of a readable file, with what was done to read it."""

    text: str
    encoding: str
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Unreadable:
    """Why a file is not a document."""

    reason: str
    detail: str


# Bytes below 32 other than tab, LF, FF and CR.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13))


def _control_share(data: bytes) -> float:
    sample = data[:65536]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls / max(1, len(sample))


def decode_bytes(data: bytes) -> Decoded | Unreadable:
    """Decode raw bytes: BOM first, then strict UTF-8, then cp1252 with a warning; fix mojibake."""
    if not data:
        return Unreadable("empty", "the file has no bytes")
    if data.startswith(_BINARY_SIGNATURES):
        return Unreadable("binary", f"starts with the signature of a binary format ({data[:4]!r})")
    warnings: list[str] = []
    text: str | None = None
    encoding = "utf-8"
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(name)
            except UnicodeDecodeError as err:
                return Unreadable("undecodable", f"has a {name} byte-order mark but invalid {name}: {err}")
            encoding = name
            if name != "utf-8":
                warnings.append(f"decoded as {name} (byte-order mark)")
            break
    if text is None:
        if _control_share(data) > _MAX_CONTROL_SHARE:
            return Unreadable("binary", "more than 1% of the first 64 KiB are NUL or control bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            try:
                text = data.decode("cp1252")
                encoding = "cp1252"
            except UnicodeDecodeError:
                text = data.decode("latin-1")
                encoding = "latin-1"
            warnings.append(f"not valid UTF-8 ({err.reason} at byte {err.start}); decoded as {encoding}")
    may_hint = encoding != "utf-8" or _MOJIBAKE_LEAD_UTF8.search(data) is not None
    fixed = ftfy.fix_encoding(text) if may_hint and _MOJIBAKE_HINT.search(text) else text
    if fixed != text:
        warnings.append("repaired mojibake (ftfy.fix_encoding)")
        text = fixed
    if "\x00" in text:
        text = text.replace("\x00", "")
        warnings.append("removed NUL characters")
    if not text.strip():
        return Unreadable("empty", "the file holds only white space")
    return Decoded(text=text, encoding=encoding, warnings=tuple(warnings))
