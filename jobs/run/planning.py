"""Shard planning: a pure, streaming function from minimised study records to shards.

Shards are per region, `shard_size` studies each, in study-pseudonym order, so the same
manifest discovered in any order plans the same shards. The sort is external: (region,
study pid) pairs are buffered `run_size` at a time, sorted, spilled to a temporary file,
and the sorted runs are merged lazily. Memory is O(run_size + shard_size), whatever the
number of studies; disk is about 40 bytes per study. A study pid seen twice in a region
(a study split across sources) is planned once.
"""

from __future__ import annotations

import heapq
import tempfile
from collections.abc import Iterable, Iterator
from itertools import groupby
from pathlib import Path

from kernel.plans import ShardPlan, shard_digest
from kernel.records import StudyRecord

__all__ = ["DEFAULT_RUN_SIZE", "plan_shards"]

DEFAULT_RUN_SIZE = 65_536


def plan_shards(
    records: Iterable[StudyRecord],
    shard_size: int,
    *,
    run_size: int = DEFAULT_RUN_SIZE,
    tmp_dir: Path | str | None = None,
) -> Iterator[ShardPlan]:
    """Yield the shards of `records`, regions in name order, each region's studies in
    study-pid order, `shard_size` per shard (the last one of a region may be smaller).

    Streams: holds at most `run_size` (region, pid) pairs in memory; the rest waits in
    temporary files under `tmp_dir` (default: the system temp folder), removed at the end.
    Raises ValueError for shard_size or run_size < 1, or a region/pid containing a tab or
    newline (pseudonyms and region names never do).
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    if run_size < 1:
        raise ValueError(f"run_size must be >= 1, got {run_size}")
    with tempfile.TemporaryDirectory(prefix="lungscreen-plan-", dir=tmp_dir) as tmp:
        runs = _spill_sorted_runs(records, run_size, Path(tmp))
        files = [path.open(encoding="utf-8") for path in runs]
        try:
            merged = heapq.merge(*files)
            for region, lines in groupby(_dedup(merged), key=lambda line: line[0]):
                yield from _region_shards(region, (pid for _, pid in lines), shard_size)
        finally:
            for fh in files:
                fh.close()


def _spill_sorted_runs(records: Iterable[StudyRecord], run_size: int, tmp: Path) -> list[Path]:
    runs: list[Path] = []
    buf: list[str] = []
    for rec in records:
        if _bad(rec.region) or _bad(rec.study_pid):
            raise ValueError("region and study_pid must not contain tabs or newlines")
        buf.append(f"{rec.region}\t{rec.study_pid}\n")
        if len(buf) >= run_size:
            runs.append(_write_run(buf, tmp, len(runs)))
            buf = []
    if buf:
        runs.append(_write_run(buf, tmp, len(runs)))
    return runs


def _write_run(buf: list[str], tmp: Path, n: int) -> Path:
    buf.sort()
    path = tmp / f"run-{n:06d}.txt"
    with path.open("w", encoding="utf-8") as fh:
        fh.writelines(buf)
    return path


def _dedup(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    previous = None
    for line in lines:
        if line != previous:
            region, pid = line.rstrip("\n").split("\t")
            yield region, pid
        previous = line


def _region_shards(region: str, pids: Iterator[str], shard_size: int) -> Iterator[ShardPlan]:
    index = 0
    chunk: list[str] = []
    for pid in pids:
        chunk.append(pid)
        if len(chunk) == shard_size:
            yield _shard(region, index, chunk)
            index += 1
            chunk = []
    if chunk:
        yield _shard(region, index, chunk)


def _shard(region: str, index: int, pids: list[str]) -> ShardPlan:
    study_pids = tuple(pids)
    return ShardPlan(
        shard_id=f"{region}-{index:05d}",
        region=region,
        index=index,
        study_pids=study_pids,
        digest=shard_digest(region, index, study_pids),
    )


def _bad(text: str) -> bool:
    return "\t" in text or "\n" in text or not text
