"""`--jobs J`: J spawned worker processes on one study. Each holds the folder lock shared (so a new sweep
cannot start on the folder while any of them runs), takes its share of the CPU threads, and stops after its
current trial when another worker fails or the sweep process is gone."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import sys
import traceback
from typing import Any

from harken.training.sweep_space import SweepError
from harken.training.sweep_worker import SweepJob, work


def _worker_main(job: SweepJob, worker: int, stop: Any) -> None:
    """A worker process: its share of the CPU threads, the shared folder lock, and `work`."""
    import torch

    from harken.training.sweep_study import FolderLock

    if job.threads:
        torch.set_num_threads(job.threads)
    try:
        with FolderLock(job.out, shared=True):
            work(job, worker, stop)
    except BaseException as e:
        stop.set()  # the other workers finish their current trial and stop
        if not isinstance(e, (KeyboardInterrupt, SystemExit)):
            traceback.print_exc()
        sys.exit(1)


def run_parallel(job: SweepJob, jobs: int) -> None:
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that holds torch threads
    stop = ctx.Event()
    job = dataclasses.replace(job, parent=os.getpid(), threads=max(1, (os.cpu_count() or 1) // jobs))
    procs = [ctx.Process(target=_worker_main, args=(job, i, stop), name=f"harken-sweep-{i}") for i in range(jobs)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:  # the workers got the same Ctrl-C: let them mark their trials interrupted
        stop.set()
        for p in procs:
            p.join()
        raise
    failed = [p.name for p in procs if p.exitcode != 0]
    if failed:
        raise SweepError(f"{len(failed)} of {jobs} workers stopped on an error (above); "
                         f"run the same command again to retry the failed trials")
