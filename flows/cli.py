"""`newsclean` command line: argument parsing and exit codes only."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Offline and quiet by default; a user's own settings win.
_ENV_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}


def _prepare_environment() -> None:
    for key, value in _ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("PREFECT_HOME", str(Path.cwd() / ".prefect"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsclean", description="Clean scraped news text into validated, deduplicated Parquet.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", help="run the cleaning flow once", description="Run the cleaning flow on a raw tree and publish to an output folder."
    )
    run.add_argument("--raw", default="raw", type=Path, help="folder of raw .txt and .jsonl files (default: raw)")
    run.add_argument("--output", default="output", type=Path, help="folder to publish into (default: output)")
    run.add_argument("--rules", type=Path, help="JSON file of extra news-chrome rules: [{name, role, pattern, max_words}]")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _prepare_environment()
    if args.command == "run":
        if not args.raw.is_dir():
            print(f"newsclean: raw folder not found: {args.raw}", file=sys.stderr)
            return 2
        from flows.clean import clean_flow  # Prefect reads its settings from the environment at import.

        try:
            summary = clean_flow(raw=str(args.raw), output=str(args.output), rules=str(args.rules) if args.rules else None)
        except Exception as err:
            print(f"newsclean: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}", file=sys.stderr)
            return 1
        print(
            f"newsclean: published {summary['documents_out']} documents ({summary['rejected']} rejected) "
            f"to {args.output / 'current'} (version {summary['version']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
