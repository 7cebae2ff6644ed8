"""A batch split across machines: which submissions shard K of N grades, and the manifest of a graded folder.

**The shard rule.** Submission ``name`` (the ``submission`` column of grades.csv) belongs to shard
``K/N`` (1 <= K <= N) when the first 8 bytes of ``sha256(name)``, read as a big-endian integer,
are ``K - 1`` modulo ``N``. It depends on the name alone, never on the other submissions or their
order, so adding a late submission never moves another to a different shard, and every machine
that is given the same paths computes the same slice without talking to the others.

**The manifest.** Every ``grade`` run writes ``OUT/shard.json`` (this module is its one reader
and writer); an unsharded run is shard ``1/1``, so any graded folder can be merged. It holds::

    {"format": 1, "shard": "2/3",
     "execution": "<fingerprint>", "rubric": "<fingerprint>", "threshold": 0.857,
     "batch": "<sha256 of every (name, digest) of the whole batch, in input order>", "batch_size": 300,
     "notes": ["what this machine did not enforce", ...],
     "submissions": [{"name": "alice/hw.ipynb", "digest": "<sha256 of the file>", "position": 17},
                     {"name": "alice/old.ipynb", ..., "superseded": "not graded: ..."}, ...],
     "merged_from": ["shard folder", ...]}   # only in the folder ``merge`` writes

``position`` is the submission's place in the whole batch, so a merge lists the rows in the order
one unsharded run would. ``batch`` tells shards cut from different inputs apart.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

from .exceptions import KitError
from .reports.report import write_atomic

MANIFEST = "shard.json"
FORMAT = 1


@dataclasses.dataclass(frozen=True)
class Shard:
    index: int  # K, from 1
    count: int  # N

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """``"K/N"`` with 1 <= K <= N, or a KitError saying how to write it."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise KitError(f"--shard {text!r} is not K/N with 1 <= K <= N: write e.g. --shard 2/3 for the second of "
                           f"three shards")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, name: str) -> bool:
        return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") % self.count == self.index - 1


WHOLE = Shard(1, 1)


@dataclasses.dataclass(frozen=True)
class Manifest:
    folder: Path
    shard: Shard
    execution: str
    rubric: str
    threshold: float | None
    batch: str
    batch_size: int
    notes: tuple[str, ...]
    submissions: tuple[dict, ...]  # {"name", "digest", "position"[, "superseded"]}
    merged_from: tuple[str, ...] = ()


def select(submissions: list, shard: Shard | None) -> list:
    """The submissions of ``shard``, in input order (all of them when ``shard`` is None)."""
    return list(submissions) if shard is None else [s for s in submissions if shard.holds(s.name)]


def batch_id(submissions) -> str:
    """What the whole batch was: every submission's name and content, in input order."""
    hasher = hashlib.sha256()
    for submission in submissions:
        hasher.update(submission.name.encode("utf-8") + b"\0" + submission.digest.encode() + b"\n")
    return hasher.hexdigest()[:16]


def write_manifest(out: Path, shard: Shard | None, prints, everything, results, notes) -> Path:
    """Record what ``out`` holds: the ``results`` of its slice of the batch ``everything``.

    Rows that are not submissions of the batch (a roster's missing students) are left out: a merge
    adds those itself. A superseded submission was never run, so it has no ledger record: its entry
    carries the row's message instead (``"superseded": "..."``).
    """
    positions = {submission.name: position for position, submission in enumerate(everything)}
    digests = {submission.name: submission.digest for submission in everything}
    entries = []
    for result in results:
        if result.submission in positions:
            entry = {"name": result.submission, "digest": digests[result.submission],
                     "position": positions[result.submission]}
            if result.status == "superseded":
                entry["superseded"] = result.message
            entries.append(entry)
    manifest = {
        "format": FORMAT, "shard": str(shard or WHOLE), "execution": prints.execution, "rubric": prints.rubric,
        "threshold": prints.threshold, "batch": batch_id(everything), "batch_size": len(everything),
        "notes": sorted(notes), "submissions": entries,
    }
    return _write(Path(out), manifest)


def write_merged(out: Path, manifests: list[Manifest], submissions: list[dict]) -> Path:
    """The manifest of a merged folder: shard 1/1 of the same batch, naming the folders it came from."""
    first = manifests[0]
    manifest = {
        "format": FORMAT, "shard": str(WHOLE), "execution": first.execution, "rubric": first.rubric,
        "threshold": first.threshold, "batch": first.batch, "batch_size": first.batch_size,
        "notes": sorted({note for m in manifests for note in m.notes}), "submissions": submissions,
        "merged_from": [str(m.folder) for m in manifests],
    }
    return _write(Path(out), manifest)


def _write(out: Path, manifest: dict) -> Path:
    path = out / MANIFEST
    write_atomic(path, json.dumps(manifest, indent=1) + "\n")
    return path


def read_manifest(folder: Path) -> Manifest:
    """The manifest of a graded folder, or a KitError saying that ``folder`` is not one."""
    folder = Path(folder)
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        submissions = tuple(
            {"name": str(item["name"]), "digest": str(item["digest"]), "position": int(item["position"]),
             **({"superseded": str(item["superseded"])} if "superseded" in item else {})}
            for item in data["submissions"]
        )
        return Manifest(folder, Shard.parse(data["shard"]), str(data["execution"]), str(data["rubric"]),
                        None if data["threshold"] is None else float(data["threshold"]), str(data["batch"]),
                        int(data["batch_size"]), tuple(map(str, data.get("notes", ()))), submissions,
                        tuple(map(str, data.get("merged_from", ()))))
    except FileNotFoundError:
        raise KitError(f"{folder} is not a graded output folder (no {MANIFEST}): pass the --out folders "
                       f"written by `grade` (or `grade --shard K/N`)") from None
    except (OSError, ValueError, KeyError, TypeError, KitError) as error:
        raise KitError(f"{path} is unreadable ({error}): grade that folder again with `grade ... --out "
                       f"{folder}`") from None
