"""The flow: read -> clean -> deduplicate -> validate -> publish, over partitions. Sequencing only.

Per-partition tasks are submitted together, so a Dask task runner runs them on its workers in
parallel, and the default runner on threads of this process that hand their work to forked
processes (flows/processes.py). Either way the flow holds only ids and counts, and the output does
not depend on the runner or the worker count.
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture, wait
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows import io, parts, tasks
from flows.config import Settings, make_settings, settings_fingerprint
from flows.processes import DEFAULT_PARTITION_MB, MAX_PARTITION_MB, available_memory, forked_workers, process_count, worker_bytes
from transforms.content import TreeEnsemble
from transforms.rules import ROLE_CHROME


def _results(futures: list[PrefectFuture[Any]]) -> list[Any]:
    wait(futures)
    return [f.result() for f in futures]


def forks_workers(task_runner: TaskRunner[Any] | None, settings: Settings) -> bool:
    """Whether the partitions' work may go to forked processes: on the thread task runner, and without LightGBM in them.

    A model the tree arrays cannot hold is scored by LightGBM, whose OpenMP runtime (GNU libgomp) hangs
    in a forked child once the parent has used it (loading the model does): such a run stays on threads.
    """
    on_threads = isinstance(task_runner, ThreadPoolTaskRunner)
    return on_threads and (settings.content is None or isinstance(settings.content.classifier, TreeEnsemble))


def _task_runner() -> TaskRunner[Any] | None:
    context = FlowRunContext.get()
    return context.task_runner if context is not None else None


@flow(name="newsclean", flow_run_name="clean {raw}", log_prints=False)
def clean_flow(
    raw: str = "raw",
    output: str = "output",
    rules: str | None = None,
    partition_mb: float = DEFAULT_PARTITION_MB,
    processes: int | None = None,
) -> dict[str, Any]:
    """Clean what is new or changed under `raw` and publish the whole validated dataset to `output`.

    On the default task runner the per-partition work runs in `processes` forked processes
    (default: one per core, no more than the batches to read or the partitions they make, and as
    many as the available memory holds; 1: in this process, one task's work at a time).
    """
    started = time.perf_counter()
    if not 0 < partition_mb <= MAX_PARTITION_MB:  # NaN fails too
        raise ValueError(f"partition_mb must be in (0, {MAX_PARTITION_MB:g}]")
    if processes is not None and processes < 1:
        raise ValueError("processes must be >= 1")
    partition_bytes = int(partition_mb * 1e6)
    # Absolute paths: tasks may run in worker processes on other machines that see the same folders.
    settings = make_settings(Path(raw).resolve(), Path(output).resolve(), Path(rules).resolve() if rules else None)
    fingerprint = settings_fingerprint(settings)
    with io.run_lock(settings.output):
        previous = tasks.load_previous_run(settings.output, fingerprint)
        work = parts.new_work_dir(settings.output)
        workers = contextlib.ExitStack()
        try:
            read_plan = tasks.scan_inputs(settings.raw, previous, partition_bytes)
            runner = _task_runner()
            if forks_workers(runner, settings):
                # Forked now, while no task runs: one per core for a run of several batches or partitions
                # (a single large file is one batch of many partitions), as memory allows (flows/processes.py).
                at_once = max(len(read_plan.batches), math.ceil(read_plan.bytes_to_read / partition_bytes))
                memory, each = available_memory(), worker_bytes(partition_bytes)
                count = process_count(processes, at_once, each, memory)
                if count < process_count(processes, at_once) and memory is not None:
                    get_run_logger().warning(
                        "%.1f GB of memory available: %d forked process(es) of about %.1f GB each (%g MB partitions), not one per core;"
                        " a lower --partition-mb allows more",
                        memory / 1e9, count, each / 1e9, partition_mb,
                    )  # fmt: skip
                forked = workers.enter_context(forked_workers(count))
                if forked > 1:
                    get_run_logger().info("the partitions' work runs in %d forked processes", forked)
            elif isinstance(runner, ThreadPoolTaskRunner):
                # On threads without workers (a model LightGBM scores): the bodies run one at a time here.
                workers.enter_context(forked_workers(1))
            reads = [tasks.read_batch.submit(settings.raw, batch, work, i) for i, batch in enumerate(read_plan.batches)]
            if previous is not None and read_plan.reused:
                reads.append(tasks.reuse_inputs.submit(previous, read_plan.reused, work))
            plan = tasks.plan_partitions(_results(reads), previous, work, partition_bytes)
            if plan.affected is None:
                assert previous is not None
                get_run_logger().info("nothing new: finished in %.1f s without publishing", time.perf_counter() - started)
                return {"version": previous.version, "documents_out": len(plan.ids), "rejected": len(plan.rejected), "changed": False}
            count = len(plan.ranges)
            each = range(count)
            # The inputs' checks need only the plan: they run beside the partitions' work, not after it.
            checking_inputs = tasks.validate_inputs.submit(read_plan.files, plan.ids, plan.rejected)
            _results([tasks.prepare_partition.submit(work, i, plan.ranges[i], plan.affected, settings) for i in each])
            tasks.group_pages(work, count, settings)
            _results([tasks.count_site_lines.submit(work, i) for i in each])
            tasks.merge_site_stats(work, count, settings, previous, plan.affected, set(plan.ids["source"]))
            cleaned = _results([tasks.clean_partition.submit(work, i, settings, previous, plan.affected) for i in each])
            # The state the next run reuses needs no check: it is written beside clustering and validation.
            staging = tasks.stage_state.submit(work, count, plan, read_plan.files, fingerprint)
            # Paragraph clusters and duplicate documents read the same parts and write their own: submitted together.
            clustering = tasks.cluster_paragraphs.submit(work, count, settings)
            finding = tasks.find_duplicate_documents.submit(work, count, settings)
            clusters, duplicates = _results([clustering, finding])
            chrome_rules = settings.clean.rules.records(ROLE_CHROME)
            validating = [tasks.finish_partition.submit(work, i, chrome_rules, plan.partition_docs[i]) for i in each]
            *checked, staged = _results([*validating, staging])
            results = tasks.combine_validations(checked, checking_inputs.result())
            manifest = {
                "raw": str(settings.raw),
                "files": len(read_plan.files),
                "files_read": sum(len(b) for b in read_plan.batches),
                "documents": sum(c.documents for c in cleaned),
                "rejected": len(plan.rejected),
                "sources_cleaned": sorted(plan.affected),
                "partitions": count,
                "fingerprint": fingerprint,
            }
            summary = tasks.summary_of(plan, cleaned, clusters, duplicates, results)
            try:
                summary["version"] = tasks.write_and_publish(settings.output, staged, work, count, plan, results, manifest)
            finally:
                # The artifact is written for failed runs too: it names the failing expectation.
                tasks.publish_report(summary, len(plan.ids) + len(plan.rejected))
        finally:
            workers.close()
            parts.remove_work_dir_soon(work)
    summary["changed"] = True
    get_run_logger().info("finished in %.1f s", time.perf_counter() - started)
    return summary
