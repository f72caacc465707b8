"""One settings object that composes the stage configs, and where user rules come from."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from transforms.clean import CleanConfig
from transforms.content import Classifier, ContentModel, TreeEnsemble
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
    content: ContentModel | None = None


MODEL_DIR = Path(__file__).resolve().parent.parent / "transforms" / "models"


def load_content_model(folder: Path = MODEL_DIR) -> ContentModel:
    """The trained content model (LightGBM text format) and its threshold, from `make train`."""
    import lightgbm as lgb

    model_file, meta_file = folder / "content_model.txt", folder / "content_model.json"
    if not model_file.is_file() or not meta_file.is_file():
        raise FileNotFoundError(f"content model not found in {folder}; run `make train`")
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    booster = lgb.Booster(model_str=model_file.read_text(encoding="utf-8"))
    classifier: Classifier
    try:
        classifier = TreeEnsemble.from_lightgbm_dump(booster.dump_model())
    except ValueError:
        classifier = booster  # a model the arrays cannot hold is scored by LightGBM itself, to the same result
    return ContentModel(classifier, threshold=float(meta["threshold"]), fallback_ratio=float(meta["fallback_ratio"]))


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


def make_settings(raw: Path, output: Path, rules_file: Path | None = None, content_model: bool = True) -> Settings:
    return Settings(
        raw=raw,
        output=output,
        clean=CleanConfig(rules=load_rules(rules_file)),
        content=load_content_model() if content_model else None,
    )


def settings_fingerprint(settings: Settings) -> str:
    """Changes when anything that shapes the output changes: stage configs, rules, model, the transforms' or the reading code.

    A run whose fingerprint differs from the previous one cleans everything again instead of reusing rows.
    """
    digest = hashlib.sha256()
    for r in settings.clean.rules.rules:
        digest.update(repr((r.name, r.role, r.pattern, r.max_words, r.ignore_case)).encode())
    digest.update(repr((settings.clean.repeats, settings.clean.before_title_max_words, settings.clean.heading_max_words)).encode())
    digest.update(repr((settings.clean.title_min_words, settings.chrome, settings.dedup)).encode())
    if settings.content is not None:
        digest.update(repr((settings.content.threshold, settings.content.fallback_ratio)).encode())
        digest.update((MODEL_DIR / "content_model.txt").read_bytes())
    root = Path(__file__).resolve().parent.parent
    # The reading code too: unchanged files are not read again, their documents come from the state.
    for path in [*sorted((root / "transforms").glob("*.py")), root / "flows" / "io.py"]:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()
