from __future__ import annotations

import codecs
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transforms.decoding import Decoded, Unreadable, decode_bytes

READABLE = [
    # (id, bytes, expected text, expected warning fragment or None)
    ("utf8", "Café “quoted”".encode(), "Café “quoted”", None),
    ("utf8-bom", codecs.BOM_UTF8 + "Café".encode(), "Café", None),
    ("utf16-bom", codecs.BOM_UTF16_LE + "Café".encode("utf-16-le"), "Café", "utf-16-le"),
    ("cp1252", "Café “quoted” – 5€".encode("cp1252"), "Café “quoted” – 5€", "decoded as cp1252"),
    ("mojibake", "CafÃ© â€œquotedâ€\x9d".encode(), "Café “quoted”", "mojibake"),
    ("html-as-text", b"<p>Hello <b>world</b></p>", "<p>Hello <b>world</b></p>", None),
]


@pytest.mark.parametrize(("case_id", "data", "text", "warning"), READABLE, ids=[c[0] for c in READABLE])
def test_readable(case_id: str, data: bytes, text: str, warning: str | None) -> None:
    out = decode_bytes(data)
    assert isinstance(out, Decoded)
    assert out.text == text
    if warning is None:
        assert out.warnings == ()
    else:
        assert any(warning in w for w in out.warnings), out.warnings


UNREADABLE = [
    ("empty", b"", "empty"),
    ("whitespace", b"  \n\t \r\n", "empty"),
    ("png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("nul-heavy", b"ab\x00\x00\x00\x00cd" * 100, "binary"),
    ("bad-utf16", codecs.BOM_UTF16_LE + b"\x00\xd8", "undecodable"),
]


@pytest.mark.parametrize(("case_id", "data", "reason"), UNREADABLE, ids=[c[0] for c in UNREADABLE])
def test_unreadable(case_id: str, data: bytes, reason: str) -> None:
    out = decode_bytes(data)
    assert isinstance(out, Unreadable)
    assert out.reason == reason
    assert out.detail


def test_plain_text_with_a_stray_nul_is_kept() -> None:
    out = decode_bytes(b"A long enough line of ordinary text." * 10 + b"\x00")
    assert isinstance(out, Decoded)
    assert "\x00" not in out.text
    assert any("NUL" in w for w in out.warnings)


def test_tabs_form_feeds_and_line_breaks_are_not_control_bytes() -> None:
    data = b"\t\x0c\r\n" * 200 + b"a line of text"
    out = decode_bytes(data)
    assert isinstance(out, Decoded)
    assert out.text == data.decode()


def test_escape_bytes_over_one_percent_are_binary() -> None:
    out = decode_bytes(b"x" * 97 + b"\x1b\x1b")
    assert isinstance(out, Unreadable)
    assert out.reason == "binary"
    assert isinstance(decode_bytes(b"x" * 99 + b"\x1b"), Decoded)  # exactly 1% is not over it


# Characters of both of the hint's classes, their neighbours, and others.
hint_text = st.text(
    alphabet=st.sampled_from([*"\u00c1\u00c2\u00c3\u00e9\u00f4\u00f5\u0080\u00bf\u00c0\u0152\u20ac\u2122\u2019aZ é—"]), max_size=12
)


@given(text=hint_text)
def test_the_utf8_byte_check_never_hides_a_mojibake_hint(text: str) -> None:
    from transforms.decoding import _MOJIBAKE_HINT, _MOJIBAKE_LEAD_UTF8

    if _MOJIBAKE_HINT.search(text):
        assert _MOJIBAKE_LEAD_UTF8.search(text.encode("utf-8"))
    assert bool(_MOJIBAKE_LEAD_UTF8.search(text.encode("utf-8"))) == bool(re.search("[\u00c2-\u00f4]", text))
