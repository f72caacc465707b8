from __future__ import annotations

import re

import pytest

from transforms.rules import DEFAULT_RULES, Rule, RuleSet, combine_rules, looks_unsafe, rules_from_records

RULES = RuleSet()

POSITIVE = [
    # (text, rule that must match)
    ("You are here", "breadcrumb_you_are_here"),
    ("You are here: Home / World", "breadcrumb_you_are_here"),
    ("Home > News > The Mosul Offensive", "breadcrumb_path"),
    ("News » Politics » Elections", "breadcrumb_path"),
    ("Home / Keeper emails from a newsletter", "breadcrumb_home"),
    ("WBEZ brings you fact-based news. Sign up for our newsletters to stay up to date.", "newsletter_cta"),
    ("Subscribe to our daily newsletter", "newsletter_cta"),
    ("Join the conversation as a VIP Member", "membership_cta"),
    ("Become a member and support independent journalism.", "membership_cta"),
    ("Share this article", "share_bar"),
    ("Facebook", "share_bar"),
    ("Tweet", "share_bar"),
    ("Click to share on Twitter", "share_prompt"),
    ("334 comments", "comments_section"),
    ("Leave a comment", "comments_section"),
    ("Comments are closed.", "comments_section"),
    ("Related stories", "related_links"),
    ("Most Popular", "related_links"),
    ("More from Business", "related_links"),
    ("© 2026 Riverton Herald. All rights reserved.", "copyright"),
    ("Copyright 2012 The Associated Press", "copyright"),
    ("This website uses cookies. By continuing to use our website you agree.", "cookie_notice"),
    ("Skip to content", "navigation_control"),
    ("Back to top", "navigation_control"),
    ("Advertisement", "advertisement"),
    ("Sign In", "account_links"),
    ("Follow us on Twitter", "follow_us"),
    ("Tags: Iraq, Mosul, ISIS", "tag_list"),
    ("Privacy Policy", "terms_links"),
    ("(Rudaw TV via AP)", "photo_credit"),
    ("Photo: Jane Doe/Reuters", "photo_credit"),
    ("Marko Drobnjakovic / AP Photo", "photo_credit"),
    ("By Jane Smith", "byline_by"),
    ("By Elena Marsh and Tom Reyes", "byline_by"),
    ("BY JOHN DOE, Associated Press", "byline_by"),
]


@pytest.mark.parametrize(("text", "rule"), POSITIVE)
def test_rule_matches(text: str, rule: str) -> None:
    hit = RULES.match(text)
    assert hit is not None, f"no rule matched {text!r}"
    assert hit.rule.name == rule


NEGATIVE = [
    # (text, why it must be kept)
    ("USA Today:", "a quote lead-in is body"),
    ("“I am confident that we can plan a constructive role there,” he told reporters.", "a short quote line"),
    ("The idea went over like a lead balloon.", "a one-line paragraph"),
    ("Recent Developments", "a subheading"),
    ("A General Summary", "a subheading"),
    ("BAGHDAD, Iraq (AP) — Iraqi forces pushed deeper into Mosul on Friday.", "a dateline"),
    ("WASHINGTON, Nov 4 -", "a bare dateline"),
    ("Residents were asked to share their views at a public meeting on Tuesday.", "'share' inside a sentence"),
    ("The minister declined to comment on the report.", "'comment' inside a sentence"),
    ("Copyright law was not designed for the age of streaming, the judge wrote in a long ruling.", "starts with 'Copyright' but is prose"),
    ("Home prices rose 4% in March, the fastest pace in two years.", "starts with 'Home'"),
    ("By the end of the week, the river had fallen below flood level.", "starts with 'By' but is prose"),
    ("Photographs of the scene were shared widely on social media during the evening.", "about photos, not a credit"),
    ("Related: the council also voted on parking fees, which will rise next year.", "long text after a related-like word"),
    ("Email", None),
]


@pytest.mark.parametrize(("text", "why"), [c for c in NEGATIVE if c[1] is not None])
def test_rule_leaves_body_alone(text: str, why: str) -> None:
    hit = RULES.match(text)
    assert hit is None, f"{why}: matched {hit.rule.name if hit else ''}"


def test_max_words_bounds_a_rule() -> None:
    long_cta = "Sign up for our newsletter " + "and read this long sentence " * 20
    assert RULES.match(long_cta) is None


def test_records_round_trip_to_the_same_rules() -> None:
    records = RULES.records("chrome")
    assert records and all(r["role"] == "chrome" for r in records)
    assert tuple(Rule(**r) for r in records) == tuple(r for r in RULES.rules if r.role == "chrome")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Bad Name", "role": "chrome", "pattern": "x"}, "rule name must be lowercase letters, digits and underscores"),
        ({"name": "x", "role": "nonsense", "pattern": "x"}, "rule role must be one of chrome, credit, byline"),
        ({"name": "x", "role": "chrome", "pattern": "x", "max_words": 0}, "max_words must be >= 1"),
        ({"name": "x", "role": "chrome", "pattern": "(unclosed"}, "rule 'x': invalid pattern"),
        ({"name": "x", "role": "chrome", "pattern": ""}, "rule 'x': pattern matches the empty string"),
        ({"name": "x", "role": "chrome", "pattern": "(?:ad)?"}, "rule 'x': pattern matches the empty string"),
        ({"name": "x", "role": "chrome", "pattern": "^\\s*$"}, "rule 'x': pattern matches the empty string"),
    ],
)
def test_rule_rejects_bad_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Rule(**kwargs)  # type: ignore[arg-type]


def test_ruleset_rejects_duplicate_names_and_bad_timeout() -> None:
    with pytest.raises(ValueError, match="rule names must be unique: a"):
        RuleSet((Rule("a", "chrome", "x"), Rule("a", "chrome", "y")))
    with pytest.raises(ValueError, match="timeout_seconds must be > 0"):
        RuleSet(timeout_seconds=0)


def test_user_rules_override_defaults_by_name() -> None:
    user = rules_from_records(
        [{"name": "share_bar", "role": "chrome", "pattern": "^nothing$"}, {"name": "promo", "role": "chrome", "pattern": "^promo code"}]
    )
    rules = RuleSet(combine_rules(DEFAULT_RULES, user))
    assert rules.match("Facebook") is None  # share_bar was replaced by the user's rule
    assert rules.match("Tweet") is None
    hit = rules.match("Promo code SAVE10")
    assert hit is not None and hit.rule.name == "promo"


def test_unsafe_user_pattern_is_rejected() -> None:
    assert looks_unsafe(r"(a+)+$")
    assert not looks_unsafe(r"^(?:share|tweet)$")
    with pytest.raises(ValueError, match="nested quantifiers"):
        rules_from_records([{"name": "evil", "role": "chrome", "pattern": r"^(a+)+$"}])


def test_catastrophic_pattern_cannot_hang_a_match() -> None:
    # Admitted on purpose (allow_unsafe): the timeout must still bound it.
    evil = rules_from_records([{"name": "evil", "role": "chrome", "pattern": r"^(a+)+$", "max_words": 5}], allow_unsafe=True)
    rules = RuleSet(evil, timeout_seconds=0.05)
    assert rules.match("a" * 40 + "!") is None
