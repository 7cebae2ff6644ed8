"""``python -m autograder merge DIR... --out DIR``: the shards of one batch, graded apart, as one output folder.

The shards must be every ``K/N`` of one batch (the same paths given to each ``grade --shard``),
graded with the same execution code, rubric and threshold (``shards`` manifests record all of it);
anything else is refused with one line saying what differs. The merge copies each submission's
folder (its feedback, results.json, executed notebook and ledger record), then writes grades.csv,
summary.html and the LMS files from the recorded results through ``gradebook.finish``, rows in the
order one unsharded run would give. No notebook runs.

The roster's students without a submission get their rows here, not in the shards: a shard only
knows its own slice, so it cannot tell a missing student from one graded elsewhere. Pass
``--roster`` (and ``--overrides``, ``--assignment-name``) to ``merge``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from . import gradebook, late, ledger, shards
from .exceptions import KitError
from .reports.report import submission_folder
from .results import SubmissionResult


def main(*, dirs, out: Path, roster: Path | None = None, overrides: Path | None = None,
         assignment_name: str | None = None, quiet: bool = False, late_policy: str | None = None,
         due: str | None = None) -> int:
    """Merge the graded folders ``dirs`` into ``out``; the exit code is 1 when any submission ended in ``error``."""
    out = Path(out)
    policy = late.resolve(late_policy, due, out)
    manifests = [shards.read_manifest(Path(folder)) for folder in dirs]
    _refuse_unmergeable(manifests, out)
    entries = sorted(((m, item) for m in manifests for item in m.submissions), key=lambda pair: pair[1]["position"])
    results = [_recorded_result(manifest, item) for manifest, item in entries]
    for manifest, item in entries:
        _copy_folder(submission_folder(manifest.folder, item["name"]), submission_folder(out, item["name"]))
    notes = sorted({note for manifest in manifests for note in manifest.notes})
    given = (("roster", roster), ("overrides", overrides), ("assignment_name", assignment_name))
    options: dict[str, Any] = {key: value for key, value in given if value is not None}
    results = gradebook.finish(results, out, notes=notes, quiet=quiet, late_policy=policy, **options)
    shards.write_merged(out, manifests, [item for _, item in entries])
    if not quiet:
        print(f"merged {len(manifests)} shard(s), {len(entries)} submission(s), into {out}")
    return 1 if any(result.status == "error" for result in results) else 0


def _refuse_unmergeable(manifests: list[shards.Manifest], out: Path) -> None:
    """A KitError naming the first reason these folders are not the complete shards of one batch."""
    first = manifests[0]
    resolved_out = out.resolve()
    for manifest in manifests:
        if manifest.folder.resolve() == resolved_out:
            raise KitError(f"--out {out} is one of the shards being merged: give the merge a folder of its own")
        if manifest.threshold != first.threshold:  # said apart from the rubric: the usual cause, and one flag fixes it
            raise KitError(f"{first.folder} was graded with accuracy threshold {first.threshold} and {manifest.folder} "
                           f"with {manifest.threshold}: run `grade --shard` again in one of them with the other's "
                           f"--threshold (it only rescores, no notebook runs)")
        for side, differs in (("execution code (sandbox, runner, inspector, limits)",
                               manifest.execution != first.execution),
                              ("rubric, points or threshold", manifest.rubric != first.rubric)):
            if differs:
                raise KitError(f"{first.folder} and {manifest.folder} were graded with different {side}: grade every "
                               f"shard with the same kit and threshold (run `grade --shard` again in the outdated "
                               f"ones)")
        if (manifest.batch, manifest.shard.count) != (first.batch, first.shard.count):
            raise KitError(f"{first.folder} (shard {first.shard}) and {manifest.folder} (shard {manifest.shard}) were "
                           f"cut from different batches: give every `grade --shard K/N` the same paths and the same N")
    seen_shards: dict[int, Path] = {}
    seen_names: dict[str, Path] = {}
    for manifest in manifests:
        if manifest.shard.index in seen_shards:
            raise KitError(f"shard {manifest.shard} is given twice ({seen_shards[manifest.shard.index]} and "
                           f"{manifest.folder}): pass each shard's folder once")
        seen_shards[manifest.shard.index] = manifest.folder
        for item in manifest.submissions:
            if item["name"] in seen_names:
                raise KitError(f"{item['name']} is in both {seen_names[item['name']]} and {manifest.folder}: "
                               f"pass each shard's folder once")
            seen_names[item["name"]] = manifest.folder
    missing = [f"{k}/{first.shard.count}" for k in range(1, first.shard.count + 1) if k not in seen_shards]
    if missing:
        raise KitError(f"shard(s) {', '.join(missing)} missing: pass the folder of every shard of the batch")


def _recorded_result(manifest: shards.Manifest, item: dict) -> SubmissionResult:
    """The result the shard recorded for ``item``, checked against the shard's manifest."""
    if "superseded" in item:  # never run, so never recorded: ``gradebook.finish`` keeps it as a superseded row
        return SubmissionResult.ungraded(item["name"], "superseded", item["superseded"], item["digest"])
    folder = submission_folder(manifest.folder, item["name"])
    read_back = ledger.read(folder)
    if read_back is None:
        raise KitError(f"{folder} has no readable {ledger.RECORD}: grade shard {manifest.shard} again into "
                       f"{manifest.folder}")
    record, result = read_back
    if (record.get("digest"), record.get("execution"), record.get("rubric")) != (item["digest"], manifest.execution,
                                                                                    manifest.rubric):
        raise KitError(f"{folder / ledger.RECORD} does not match {manifest.folder / shards.MANIFEST}: "
                       f"grade shard {manifest.shard} again into {manifest.folder}")
    return result


def _copy_folder(source: Path, target: Path) -> None:
    """Copy a submission's folder whole: into a temporary sibling first, then swapped in, so no half copy is left."""
    if not source.is_dir():  # a superseded submission whose identity was never written: nothing to copy
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        shutil.copytree(source, staging, dirs_exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
