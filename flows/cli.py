"""`newsclean` command line: argument parsing and exit codes only."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import threading
from pathlib import Path

from flows.processes import DEFAULT_PARTITION_MB, MAX_PARTITION_MB

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
    where = run.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="run tasks on a local Dask cluster of N worker processes (127.0.0.1 only)")
    where.add_argument("--dask-address", help="run tasks on an existing Dask cluster, e.g. tcp://scheduler:8786")
    where.add_argument(
        "--processes",
        type=int,
        help=(
            "without Dask: forked processes for the partitions' work"
            " (default: one per core, as many as the available memory holds; 1: all in this process)"
        ),
    )
    run.add_argument(
        "--partition-mb",
        type=float,
        default=DEFAULT_PARTITION_MB,
        help=f"megabytes of text per partition (default {DEFAULT_PARTITION_MB:g}, at most {MAX_PARTITION_MB:g}); one task's unit of work",
    )
    server = sub.add_parser("server", help="start a Prefect server with its UI (SQLite under PREFECT_HOME)")
    server.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    server.add_argument("--port", default=4200, type=int)
    serve = sub.add_parser("serve", help="register a scheduled deployment on the server and run it", description=SERVE_HELP)
    when = serve.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", help='cron schedule, e.g. "0 * * * *" for every hour')
    when.add_argument("--interval", type=int, help="seconds between runs")
    serve.add_argument("--name", default="hourly", help="deployment name (default: hourly)")
    serve.add_argument("--raw", default="raw", type=Path)
    serve.add_argument("--output", default="output", type=Path)
    serve.add_argument("--rules", type=Path)
    return parser


SERVE_HELP = (
    "Register the newsclean flow as a deployment on the Prefect server in PREFECT_API_URL "
    "(default http://127.0.0.1:4200/api, as `newsclean server` starts it) and serve its scheduled runs until stopped. "
    "Trigger a run from the UI or with `prefect deployment run newsclean/NAME`."
)


def _server(host: str, port: int) -> int:
    prefect = Path(sys.executable).with_name("prefect")
    os.execv(str(prefect), [str(prefect), "server", "start", "--host", host, "--port", str(port)])
    return 1  # not reached


def _serve(args: argparse.Namespace) -> int:
    os.environ.setdefault("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    if args.interval is not None and args.interval < 1:
        print("newsclean: --interval must be >= 1 second", file=sys.stderr)
        return 2
    from flows.clean import clean_flow

    parameters = {
        "raw": str(args.raw.resolve()),
        "output": str(args.output.resolve()),
        "rules": str(args.rules.resolve()) if args.rules else None,
    }
    # One run at a time per served deployment; the output lock also refuses a concurrent run from elsewhere.
    clean_flow.serve(name=args.name, cron=args.cron, interval=args.interval, parameters=parameters, limit=1)
    return 0


def _import_heavy_modules(load_loops: bool) -> None:
    from flows.validation import import_great_expectations
    from transforms.kernels import precompile

    if load_loops:
        # Loaded from numba's cache here, the compiled loops are inherited by the run's forked
        # workers instead of each worker loading them again. (Dask's workers preload their own.)
        precompile()
    import_great_expectations()


def run_settings(temporary_server: bool) -> contextlib.AbstractContextManager[object]:
    """Prefect settings for one run: no flow-run heartbeats when its server is the temporary one.

    Heartbeats tell a lasting server that a run still lives (it marks runs that stop sending them as
    crashed). A temporary server stops with the run, and Prefect's heartbeat thread sleeps in steps of
    a second that the flow's end waits for: half a second of every run, for nothing.
    """
    if not temporary_server:
        return contextlib.nullcontext()
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    return temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})


def _run(args: argparse.Namespace) -> dict[str, object]:
    from flows.apiserver import TemporaryApi
    from flows.collector import settle_for_run

    timeout = float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])
    # The server boots in its own process while this one imports the flow: start-up is the longer of the two, not their sum.
    with TemporaryApi(timeout) as api:
        from flows.clean import clean_flow  # Prefect reads its settings (PREFECT_API_URL) from the environment at import.

        params = {
            "raw": str(args.raw),
            "output": str(args.output),
            "rules": str(args.rules) if args.rules else None,
            "partition_mb": args.partition_mb,
        }
        if args.processes is not None:
            params["processes"] = args.processes
        on_dask = args.workers is not None or args.dask_address is not None
        if on_dask:
            from flows.runners import dask_runner, local_cluster  # imports Dask before the GX thread starts importing
        # Validation (in this process, or for the inputs table on Dask) needs GX, signatures numba:
        # import them while the server or the local cluster boots. With neither to wait for, it is imported where it is used.
        warm = threading.Thread(target=_import_heavy_modules, args=(not on_dask,), name="import-heavy", daemon=True)
        if api.process is not None or args.workers is not None:
            warm.start()
        if not on_dask:
            api.wait_ready()
            if warm.is_alive():
                warm.join()
            settle_for_run()  # the imported modules live as long as the run: out of the collector's walks
            with run_settings(api.process is not None):
                return clean_flow(**params)
        with contextlib.ExitStack() as stack:
            # A local cluster's workers boot alongside the server (they read PREFECT_API_URL, already set).
            address = args.dask_address or stack.enter_context(local_cluster(args.workers))
            api.wait_ready()
            if warm.is_alive():
                warm.join()
            settle_for_run()
            with run_settings(api.process is not None):
                return clean_flow.with_options(task_runner=dask_runner(address))(**params)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _prepare_environment()
    if args.command == "server":
        return _server(args.host, args.port)
    if args.command == "serve":
        try:
            return _serve(args)
        except Exception as err:
            print(f"newsclean: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}", file=sys.stderr)
            return 1
    if args.command == "run":
        if not args.raw.is_dir():
            print(f"newsclean: raw folder not found: {args.raw}", file=sys.stderr)
            return 2
        if args.output.exists() and not args.output.is_dir():
            print(f"newsclean: output is not a folder: {args.output}", file=sys.stderr)
            return 2
        if args.workers is not None and args.workers < 1:
            print("newsclean: --workers must be >= 1", file=sys.stderr)
            return 2
        if args.processes is not None and args.processes < 1:
            print("newsclean: --processes must be >= 1", file=sys.stderr)
            return 2
        if not 0 < args.partition_mb <= MAX_PARTITION_MB:  # NaN fails too
            print(f"newsclean: --partition-mb must be in (0, {MAX_PARTITION_MB:g}]", file=sys.stderr)
            return 2
        try:
            summary = _run(args)
        except Exception as err:
            print(f"newsclean: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}", file=sys.stderr)
            return 1
        if summary.get("changed", True):
            print(
                f"newsclean: published {summary['documents_out']} documents ({summary['rejected']} rejected) "
                f"to {args.output / 'current'} (version {summary['version']})"
            )
        else:
            print(f"newsclean: nothing new under {args.raw}; version {summary['version']} stays current")
    return 0


def entry() -> None:
    """The `newsclean` command: main(), then exit without the collector's last walk over every object."""
    code = main()
    # Before exiting the interpreter collects every object of every imported module (GX, Prefect,
    # pandas): about 2 s of nothing useful. Frozen objects are left out of that walk.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
