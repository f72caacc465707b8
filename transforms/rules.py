"""News-chrome rules as named data (name, role, pattern), and the matcher that applies them.

A rule's role says what a match becomes: `chrome` is removed from the body, `credit` and `byline`
move to the document's metadata. Patterns use the `regex` module so that every match is bounded
by a timeout: a user's pattern with catastrophic backtracking cannot hang a run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import regex

from transforms.bulk import Texts

ROLE_CHROME = "chrome"
ROLE_CREDIT = "credit"
ROLE_BYLINE = "byline"
RULE_ROLES = (ROLE_CHROME, ROLE_CREDIT, ROLE_BYLINE)

# Nested quantifiers over the same group, the classic shape of catastrophic backtracking.
_NESTED_QUANTIFIER = regex.compile(r"\((?:[^()\\]|\\.)*[+*](?:[^()\\]|\\.)*\)[+*{]")


@dataclass(frozen=True)
class Rule:
    """A named pattern; a block matches when `pattern` is found in it and it has <= max_words."""

    name: str
    role: str
    pattern: str
    max_words: int = 40
    ignore_case: bool = True

    def __post_init__(self) -> None:
        if not regex.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError("rule name must be lowercase letters, digits and underscores")
        if self.role not in RULE_ROLES:
            raise ValueError(f"rule role must be one of {', '.join(RULE_ROLES)}")
        if self.max_words < 1:
            raise ValueError("max_words must be >= 1")
        try:
            compiled = regex.compile(self.pattern)
        except regex.error as err:
            raise ValueError(f"rule {self.name!r}: invalid pattern: {err}") from err
        # "" or "a*" is found in every text: the rule would remove every block of up to max_words.
        if compiled.search("") is not None:
            raise ValueError(f"rule {self.name!r}: pattern matches the empty string, so it would match every block")


# The default news-chrome rules. Each is about a kind of text, never one site's wording.
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("breadcrumb_you_are_here", ROLE_CHROME, r"^you are here\b", max_words=30),
    Rule("breadcrumb_path", ROLE_CHROME, r"^[^.!?]{1,60}?(?:\s(?:>|»|›|→|::)\s[^.!?>»›]{1,80}){1,}$", max_words=25),
    Rule("breadcrumb_home", ROLE_CHROME, r"^(?:home|start|front ?page)\s*(?:>|»|›|/|\||→|::)", max_words=25),
    Rule(
        "newsletter_cta",
        ROLE_CHROME,
        r"\bsign up (?:for|to) (?:our|the|a|my)\b.{0,60}\b(?:newsletters?|e-?mails?|alerts|updates)\b"
        r"|\bsubscribe to (?:our|the|my) (?:\w+ ){0,3}(?:newsletters?|feed|channel|podcast)\b"
        r"|\bnewsletter sign[- ]?up\b|^(?:get|receive) (?:our|the) (?:\w+ ){0,3}newsletters?\b"
        r"|^(?:sign up|subscribe)(?: now| today| here)?[.!:]?$",
        max_words=45,
    ),
    Rule(
        "membership_cta",
        ROLE_CHROME,
        r"\bjoin the (?:conversation|discussion|debate)\b|\bbecome an? (?:\w+ ){0,2}(?:member|subscriber|supporter|patron)\b"
        r"|\bsupport (?:our|independent|quality|local) (?:\w+ )?journalism\b|\balready an? (?:member|subscriber)\b"
        r"|\bsubscribe (?:for|to get) (?:full|unlimited|digital) access\b|\bunlock (?:this|all) (?:article|story|content)\b",
        max_words=40,
    ),
    Rule(
        "share_bar",
        ROLE_CHROME,
        r"^(?:share|share this(?: article| story| page| post| video)?|share on \w+|tweet(?: this)?|e-?mail(?: this)?"
        r"(?: article| story)?|(?:print)(?: this)?(?: article| story| page)?|pin it|facebook|twitter|x|linkedin|google\+"
        r"|pinterest|reddit|whatsapp|digg|delicious|stumbleupon|tumblr|flipboard|buffer|permalink|more sharing options)[:.!]?$",
        max_words=5,
    ),
    Rule("share_prompt", ROLE_CHROME, r"^(?:share|send) (?:this|via|on|to)\b|^click to (?:share|email|print)\b", max_words=12),
    Rule(
        "comments_section",
        ROLE_CHROME,
        r"^(?:\d+\s+)?(?:comments?|responses?|replies|trackbacks?|pingbacks?)(?:\s*\(\d+\))?[:.]?$"
        r"|^(?:leave|post|add|write|submit) (?:a|your) (?:comment|reply|response)\b|^comments? (?:are|have been) (?:closed|disabled)\b"
        r"|^(?:view|show|read|load|see) (?:all |more )?(?:\d+ )?comments?\b|^you must be logged in to (?:post|leave) a comment\b"
        r"|^(?:reply|report(?: abuse| comment)?|flag|like|recommend)$|^cancel reply$|^notify me of (?:new|follow-up) (?:comments|posts)\b"
        r"|^comments? policy\b|^\d+ (?:people|readers) (?:commented|recommend)\b",
        max_words=20,
    ),
    Rule(
        "related_links",
        ROLE_CHROME,
        r"^(?:related|related (?:stories|articles|posts|content|links|coverage|topics|videos|news|reading)|more (?:stories|news|articles|videos)"
        r"|read more|see also|recommended(?: for you| stories| articles| reading)?|you (?:may|might) (?:also )?like|don'?t miss"
        r"|most (?:popular|read|viewed|shared|emailed|commented)|top stories|trending(?: now| stories)?|popular (?:posts|stories|articles)"
        r"|recent (?:posts|comments|articles|stories)|latest (?:news|stories|headlines|posts)|editor'?s picks|around the web"
        r"|more (?:from|in|on) [\w .&'-]{1,40})[:.]?$",
        max_words=8,
    ),
    Rule("copyright", ROLE_CHROME, r"^(?:©|\(c\)|copyright\s*(?:©|\(c\)|\d{4}|$))|\ball rights reserved\b", max_words=60),
    Rule(
        "cookie_notice",
        ROLE_CHROME,
        r"\b(?:this|our) (?:web ?)?site uses cookies\b|\bwe use cookies\b|\buse of cookies\b|\baccept (?:all )?cookies\b|\bcookie (?:policy|settings|preferences)\b",
        max_words=80,
    ),
    Rule(
        "navigation_control",
        ROLE_CHROME,
        r"^(?:skip (?:to|navigation)\b.*|accessibility(?: links| help)?|(?:back to )?top(?: of page)?|main menu|menu|navigation|search(?: for| term| this site)?:?"
        r"|close|open|next|previous|prev|older posts|newer posts|next (?:post|article|story)|previous (?:post|article|story)|load more|show more"
        r"|sections|home|homepage|site map|sitemap|rss(?: feed)?|subscribe to rss|toggle navigation|jump to (?:navigation|content))[:.»›]?$",
        max_words=6,
    ),
    Rule(
        "advertisement",
        ROLE_CHROME,
        r"^(?:advertisement|advertising|sponsored(?: content| links)?|ads? by \S.*|paid content|promoted(?: stories)?)[:.]?$",
        max_words=6,
    ),
    Rule(
        "account_links",
        ROLE_CHROME,
        r"^(?:log ?in|log ?out|sign ?in|sign ?out|register|my account|create (?:an )?account|forgot (?:your )?password\??)(?:\s*[/|]\s*(?:log ?in|sign ?in|register|sign up))?$",
        max_words=6,
    ),
    Rule(
        "follow_us",
        ROLE_CHROME,
        r"^follow (?:us|@\w+|\w+ on)\b|\blike us on facebook\b|\bfollow us on (?:twitter|facebook|instagram|x)\b",
        max_words=15,
    ),
    Rule("tag_list", ROLE_CHROME, r"^(?:tags?|topics?|filed under|categories|category|posted in|keywords)\s*:", max_words=40),
    Rule(
        "terms_links",
        ROLE_CHROME,
        r"^(?:terms (?:of (?:use|service)|and conditions)|privacy(?: policy| notice)?|contact us|about us|advertise(?: with us)?|careers|jobs)$",
        max_words=6,
    ),
    Rule(
        "photo_credit",
        ROLE_CREDIT,
        r"^\(?(?i:photo|photograph|image|picture|video|credit|illustration|graphic|source)s?(?i: by| credit)?\s*[:©]\s*[^.]{1,80}\)?$"
        r"|^\([^()]{1,60}\b(?:via )?(?:AP|AFP|Reuters|Getty(?: Images)?|EPA|PA|Bloomberg|Shutterstock)\)$"
        r"|^(?:[A-Z][\w.'’-]+\s){1,4}/\s?(?:AP|AFP|Reuters|Getty Images|EPA|Bloomberg)(?: Photo)?$"
        r"|^(?:[A-Z][\w.'’-]+\s){0,4}(?:for|/) (?:The )?(?:[A-Z][\w.’'-]+ ){0,3}(?:Photo|Images)$",
        max_words=14,
        ignore_case=False,
    ),
    Rule(
        "byline_by",
        ROLE_BYLINE,
        r"^(?i:by)[:\s]\s*[A-Z][\w.'’-]+(?:\s+(?:[A-Z][\w.'’-]+|and|&|de|da|van|von|der|la|le|del|bin),?){0,6}"
        r"(?:\s*(?:[,|/•·–—-]|\bin\b|\bfor\b)\s*[^.!?]{0,60})?$",
        max_words=16,
        ignore_case=False,
    ),
)

# A block that is only a person's name (2-4 capitalised words, no function words): a byline when it
# closes the document, an ordinary heading anywhere else.
NAME_ONLY = regex.compile(r"^(?:[A-Z][a-z’'-]+|[A-Z]\.)(?:\s(?:[A-Z][a-z’'-]+|[A-Z]\.|de|van|von|bin|al-[A-Z][a-z]+)){1,3}$")
NAME_STOPWORDS = frozenset(
    (
        "a an the and or of in on at to for with from by about recent new more latest our your this that these what why how who "
        "when where summary update updates news developments background conclusion introduction"
    ).split()
)

# A photo credit appended to the end of a caption copy ("... the northeast. Marko Drobnjakovic / AP Photo").
CREDIT_TAIL = regex.compile(
    r"\s+(?:(?:[A-Z][\w.'’-]+\s){1,4}(?:/|via|for)\s?(?:The\s)?(?:AP|AFP|Reuters|Getty Images|EPA|Bloomberg)(?:\sPhoto)?"
    r"|\((?:[^()]{1,60}\s)?(?:via\s)?(?:AP|AFP|Reuters|Getty Images|EPA)\)"
    r"|\((?:photo|credit|image)s?:?\s[^()]{1,60}\)|(?:Photo|Image|Credit)s?:\s?[^.]{1,60})$"
)


@dataclass(frozen=True)
class RuleMatch:
    """Which rule matched a block, and the text it matched."""

    rule: Rule
    matched: str


@dataclass(frozen=True)
class RuleSet:
    """Compiled rules, tried in order; a search by a rule that is not one of the defaults is bounded by `timeout_seconds`."""

    rules: tuple[Rule, ...] = DEFAULT_RULES
    timeout_seconds: float = 0.05
    _compiled: tuple[tuple[Rule, regex.Pattern[str], float | None], ...] = field(init=False, repr=False, compare=False)
    _max_words: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.timeout_seconds > 0:
            raise ValueError("timeout_seconds must be > 0")
        names = [r.name for r in self.rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique: {', '.join(duplicates)}")
        # A timeout costs 4x per search (measured), so only rules from outside the code pay for one.
        compiled = tuple(
            (r, regex.compile(r.pattern, regex.IGNORECASE if r.ignore_case else 0), None if r in DEFAULT_RULES else self.timeout_seconds)
            for r in self.rules
        )
        object.__setattr__(self, "_compiled", compiled)
        object.__setattr__(self, "_max_words", max((r.max_words for r in self.rules), default=0))

    def match(self, text: str, n_words: int | None = None) -> RuleMatch | None:
        """The first rule that matches `text`; a search that times out counts as no match."""
        words = len(text.split()) if n_words is None else n_words
        if words > self._max_words:
            return None
        for rule, pattern, timeout in self._compiled:
            if words > rule.max_words:
                continue
            found = _found(pattern, text, timeout)
            if found:
                return RuleMatch(rule, found.group(0))
        return None

    def match_all(self, texts: Sequence[str], n_words: npt.NDArray[np.int64], bulk: Texts | None = None) -> list[RuleMatch | None]:
        """`match` for every text; the default rules search all texts at once (see transforms.bulk).

        `bulk` is `Texts.of(texts)`, when already made.
        """
        out: list[RuleMatch | None] = [None] * len(texts)
        n_words = np.asarray(n_words, dtype=np.int64)
        # The texts a rule may match, shortest first: a rule's texts (up to its word limit) are then
        # a prefix, which Arrow slices without copying (a copy of them per rule cost 0.15 s per partition).
        short = np.flatnonzero(n_words <= self._max_words)
        short = short[np.argsort(n_words[short], kind="stable")]
        limits = n_words[short]
        candidates = Texts.of([texts[i] for i in short.tolist()]) if bulk is None else bulk.take(short)
        undecided = np.ones(len(short), dtype=bool)
        for rule, pattern, timeout in self._compiled:
            upto = int(np.searchsorted(limits, rule.max_words, side="right"))
            if not undecided[:upto].any():
                continue
            if timeout is None:
                # Texts a rule before this one matched are searched again here, and left as they are.
                hit = np.flatnonzero(candidates.head(upto).search(rule.pattern, rule.ignore_case, pattern) & undecided[:upto])
            else:
                rows = np.flatnonzero(undecided[:upto])
                hit = np.array([r for r in rows.tolist() if _found(pattern, texts[short[r]], timeout)], dtype=np.int64)
            for r in hit.tolist():
                found = _found(pattern, texts[short[r]], timeout)
                if found:  # a second search of a user's pattern can still time out
                    out[short[r]] = RuleMatch(rule, found.group(0))
                    undecided[r] = False
        return out

    def records(self, role: str) -> list[dict[str, object]]:
        """The rules of one role as records (the rules-file format), for passing to the output checks."""
        return [
            {"name": r.name, "role": r.role, "pattern": r.pattern, "max_words": r.max_words, "ignore_case": r.ignore_case}
            for r in self.rules
            if r.role == role
        ]


def _found(pattern: regex.Pattern[str], text: str, timeout: float | None) -> regex.Match[str] | None:
    """The first match, or None when there is none or the search timed out."""
    try:
        return pattern.search(text, timeout=timeout)
    except TimeoutError:
        return None


def looks_unsafe(pattern: str) -> bool:
    """True for nested quantifiers such as (a+)+, which can backtrack exponentially."""
    return bool(_NESTED_QUANTIFIER.search(pattern))


def rules_from_records(records: Iterable[Mapping[str, object]], allow_unsafe: bool = False) -> tuple[Rule, ...]:
    """Build rules from plain records (e.g. a user's JSON file), rejecting unsafe patterns."""
    rules: list[Rule] = []
    for i, rec in enumerate(records):
        missing = [k for k in ("name", "role", "pattern") if k not in rec]
        if missing:
            raise ValueError(f"rule {i}: missing {', '.join(missing)}")
        pattern = str(rec["pattern"])
        if not allow_unsafe and looks_unsafe(pattern):
            raise ValueError(f"rule {rec['name']!r}: pattern has nested quantifiers and may backtrack catastrophically")
        max_words = rec.get("max_words", 40)
        if not isinstance(max_words, int):
            raise ValueError(f"rule {rec['name']!r}: max_words must be an integer")
        rules.append(
            Rule(
                name=str(rec["name"]),
                role=str(rec["role"]),
                pattern=pattern,
                max_words=max_words,
                ignore_case=bool(rec.get("ignore_case", True)),
            )
        )
    return tuple(rules)


def combine_rules(base: Sequence[Rule], extra: Sequence[Rule]) -> tuple[Rule, ...]:
    """User rules first (they win), then the defaults they do not replace by name."""
    names = {r.name for r in extra}
    return tuple(extra) + tuple(r for r in base if r.name not in names)
