"""Great Expectations suites from expectations/*.json, run on the output tables before publishing."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

EXPECTATIONS_DIR = Path(os.environ.get("NEWSCLEAN_EXPECTATIONS", Path(__file__).resolve().parent.parent / "expectations"))

# One validation at a time per process. GX parses suite parameters with pyparsing, whose parse
# actions learn their arity on first use by trial; two threads doing that at once leave a wrong
# arity behind, and every later validation in the process fails ("push_first() missing ... 'toks'").
# Tasks run in threads of one process by default (the inputs' checks beside the partitions' work,
# or every check where no worker is forked), and GX holds the GIL for most of its work anyway.
_GX_LOCK = threading.Lock()


@dataclass(frozen=True)
class TableValidation:
    table: str
    success: bool
    failed: list[str]
    result: dict[str, Any]


def load_suite_spec(name: str, folder: Path | None = None) -> dict[str, Any]:
    path = (folder or EXPECTATIONS_DIR) / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"expectation suite not found: {path}")
    spec: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return spec


def _describe(expectation: dict[str, Any]) -> str:
    cfg = expectation.get("expectation_config", {})
    kwargs = {k: v for k, v in cfg.get("kwargs", {}).items() if k in ("column", "column_list", "column_A", "column_B", "value")}
    result = expectation.get("result", {})
    detail = ""
    if "unexpected_count" in result:
        sample = result.get("partial_unexpected_list", [])[:3]
        detail = f": {result['unexpected_count']} unexpected, e.g. {sample}"
    elif "observed_value" in result:
        detail = f": observed {result['observed_value']}"
    return f"{cfg.get('type')} {kwargs}{detail}"


_COLUMN_KWARGS = ("column", "column_A", "column_B")


def checked_columns(spec: dict[str, Any]) -> list[str] | None:
    """The columns a suite's expectations name, in order of first mention; None if one looks at the table's columns."""
    names: list[str] = []
    for expectation in spec["expectations"]:
        if str(expectation.get("type", "")).startswith("expect_table_column"):
            return None
        kwargs = expectation.get("kwargs", {})
        named = [kwargs[k] for k in _COLUMN_KWARGS if k in kwargs] + list(kwargs.get("column_list", []))
        names += [n for n in named if isinstance(n, str) and n not in names]
    return names


def import_great_expectations() -> None:
    """Import GX and register newsclean's expectation (seconds: the CLI does it while the Prefect server starts)."""
    import great_expectations  # noqa: F401
    from great_expectations.execution_engine import pandas_execution_engine

    import flows.gx_rules  # noqa: F401  (registers expect_column_values_to_not_match_rules)

    # GX fingerprints every in-memory batch under this size by hashing all its rows, for a batch
    # marker in the result that nothing here reads: 0.15-0.25 s of each partition's validation.
    pandas_execution_engine.HASH_THRESHOLD = 0


def validate_tables(frames: dict[str, pd.DataFrame], parameters: dict[str, Any], folder: Path | None = None) -> list[TableValidation]:
    """Run each table's suite on its DataFrame; one TableValidation per table."""
    with _GX_LOCK:
        return _validate_tables(frames, parameters, folder)


def _validate_tables(frames: dict[str, pd.DataFrame], parameters: dict[str, Any], folder: Path | None) -> list[TableValidation]:
    import_great_expectations()  # only where it is used: importing GX takes seconds
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    # Progress bars would flood the Prefect task logs with carriage-return noise.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_pandas(name="newsclean")
    out = []
    for table, frame in frames.items():
        spec = load_suite_spec(table, folder)
        # Only the columns the suite checks: a batch holds nothing its suite does not read.
        columns = checked_columns(spec)
        if columns is not None and set(columns) <= set(frame.columns):
            frame = frame[columns]
        # GX checks a range with numpy only on int64 and float64 columns, and calls Python per value on any other width.
        narrow = {c: np.int64 for c, t in frame.dtypes.items() if isinstance(t, np.dtype) and t.kind == "i" and t.itemsize < 8}
        frame = frame.astype(narrow) if narrow else frame
        suite = context.suites.add(gx.ExpectationSuite(name=spec["name"], expectations=spec["expectations"], meta=spec.get("meta")))
        batch = source.add_dataframe_asset(name=table).add_batch_definition_whole_dataframe(f"{table}_all")
        definition = gx.ValidationDefinition(name=f"{table}_validation", data=batch, suite=suite)
        # BASIC: the count and a sample of the unexpected values, which is what a failure names. GX's
        # default (SUMMARY) also counts every distinct unexpected value: 10-15% more of GX's time.
        result = definition.run(
            batch_parameters={"dataframe": frame}, expectation_parameters=parameters, result_format="BASIC"
        ).to_json_dict()
        failed = [_describe(r) for r in result.get("results", []) if not r.get("success")]
        out.append(TableValidation(table=table, success=bool(result.get("success")), failed=failed, result=result))
    return out
