"""One settings object that composes the stage configs, and where user rules come from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from transforms.clean import CleanConfig
from transforms.dedup import DedupConfig
from transforms.rules import DEFAULT_RULES, RuleSet, combine_rules, rules_from_records
from transforms.sitechrome import SiteChromeConfig


@dataclass(frozen=True)
class Settings:
    """Everything a run needs; paths are resolved by the caller."""

    raw: Path
    output: Path
    clean: CleanConfig = field(default_factory=CleanConfig)
    chrome: SiteChromeConfig = field(default_factory=SiteChromeConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)


def load_rules(path: Path | None) -> RuleSet:
    """The default rules, plus (and overridden by name by) the rules in a user's JSON file."""
    if path is None:
        return RuleSet()
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read rules file {path}: {err}") from err
    if not isinstance(records, list):
        raise ValueError(f"rules file {path} must hold a JSON list of {{name, role, pattern}} objects")
    return RuleSet(combine_rules(DEFAULT_RULES, rules_from_records(records)))


def make_settings(raw: Path, output: Path, rules_file: Path | None = None) -> Settings:
    return Settings(raw=raw, output=output, clean=CleanConfig(rules=load_rules(rules_file)))
