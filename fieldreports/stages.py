"""What a stage is: a plain function from one frozen job to one frozen result, cached by the job.

Every stage function has the same shape,

    run(job, *, work_dir, on_progress) -> result

where `job` is a frozen dataclass holding every input (paths, settings, the hashes that identify
the audio), `work_dir` is a folder of its own for any file it writes, and `on_progress(done,
total)` counts seconds of audio. Jobs and results serialise to JSON (`catalog.serialise`), so
the same function runs in this process, in a thread beside another stage, or in a worker on
another machine, and its result is cached in the catalog under `Stage.key(job)`: a hash of the
stage's name and version and of the job's fields, less those marked NOT_IN_KEY.

The descriptors for fieldreports' own stages are here; `episodes` and `maps` declare theirs
beside their functions, and `pipeline.py` lists them all in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from fieldreports.audio import MasterJob, master
from fieldreports.audio.results import MasteredAudio
from fieldreports.catalog.base import cache_key
from fieldreports.geo import LocateJob, Placements, locate
from fieldreports.intake.inbox import FieldReport
from fieldreports.transcription import TranscribeJob, transcribe
from fieldreports.transcription.results import Transcript

J = TypeVar("J")
R = TypeVar("R")
ProgressFn = Callable[[float, float], None]


def _no_outputs(_result: Any) -> tuple[Path, ...]:
    return ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Stage(Generic[J, R]):
    """One stage: its name (the catalog's and the work log's), its function and its types.

    Bump `version` when the function's result changes for the same job, so results cached by
    older code are made again. `outputs` names the files a result points at: a cached result
    whose files are gone is made again. `remote` stages may run on a worker machine.
    """

    name: str
    version: int
    job: type[J]
    result: type[R]
    run: Callable[..., R]
    outputs: Callable[[R], tuple[Path, ...]] = field(default=_no_outputs)
    remote: bool = False
    # The name the work log gives one run of it (transcribe:translate...).
    label: Callable[[J], str] | None = None

    def key(self, job: J) -> str:
        """The cache key: the same job gives the same key on every machine."""
        return cache_key(self.name, self.version, job)

    def describe(self, job: J) -> str:
        return self.label(job) if self.label is not None else self.name


NORMALISE: Stage[MasterJob, MasteredAudio] = Stage(
    name="normalise",
    version=5,
    job=MasterJob,
    result=MasteredAudio,
    run=master,
    outputs=lambda m: (m.podcast_mp3, m.master_wav),
    remote=True,
)
TRANSCRIBE: Stage[TranscribeJob, Transcript] = Stage(
    name="transcribe",
    version=3,
    job=TranscribeJob,
    result=Transcript,
    run=transcribe,
    remote=True,
    label=lambda job: f"transcribe:{job.task}",
)
LOCATE: Stage[LocateJob, Placements] = Stage(
    name="locate", version=3, job=LocateJob, result=Placements, run=locate
)

#: The stages a worker may run, by name: what `fieldreports worker` looks a task's stage up in.
#: (locate stays in the run: it takes every report at once, the tracks folder, and under a
#: second.)
REMOTE_STAGES: dict[str, Stage[Any, Any]] = {
    s.name: s for s in (NORMALISE, TRANSCRIBE, LOCATE) if s.remote
}


def remote_stage(name: str) -> Stage[Any, Any]:
    """The remote stage called `name`; KeyError naming the known ones otherwise.

    >>> remote_stage("transcribe").name
    'transcribe'
    """
    try:
        return REMOTE_STAGES[name]
    except KeyError:
        raise KeyError(f"no remote stage {name!r} (known: {', '.join(REMOTE_STAGES)})") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Heard:
    """A report mastered and transcribed: what `locate` and `episode` take of it."""

    report: FieldReport
    mastered: MasteredAudio
    transcripts: tuple[Transcript, ...]
