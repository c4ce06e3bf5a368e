"""How a job's files travel between the run and its workers: never a path only one machine has.

A job names its recording by a path on the run's machine, and a result names its files (the
master, the podcast MP3) by paths in the run's cache, `cache/<stage>/<key>/`, exactly as a local
run would: the catalog holds the same result whichever machine made it. Two set-ups:

- `SharedDisk` (`[queue] work_storage = "shared"`): the show folder is on a disk every machine
  mounts at the same path. A worker reads the recording where it lies, makes the result in
  `cache/.incoming/<stage>-<key>-<random>/` and renames it into `cache/<stage>/<key>/`, so a
  half-made result is never where the run looks, and two workers finishing the same task
  cannot mix their files.
- `S3Work` (`"s3"`): a private prefix of a bucket (`work_bucket`, `work_prefix`). The run
  uploads the recording as `inputs/<sha256><suffix>` before sending the task; the worker
  downloads it into a folder of its own, makes the result there, uploads its files as
  `results/<stage>/<key>/<name>` and deletes its copies; the run downloads them into its cache.
  The recordings carry GPS tags and the reporters' file names, so nothing here is ever public:
  objects are written private, and the run deletes the recordings it uploaded when it ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from fieldreports.catalog.serialise import map_paths, paths_in
from fieldreports.config import ShowConfig
from fieldreports.digest import file_sha256
from fieldreports.errors import ReportError, SetupError, WorkStorageUnavailable
from fieldreports.executor import INCOMING
from fieldreports.stages import Stage

log = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")
HashFn = Callable[[Path], tuple[str, int]]


class WorkStorage(Protocol):
    """What the run (send, receive, finish) and a worker (fetch, has, keep) need of the storage."""

    def send(self, job: Any, hash_file: HashFn) -> dict[str, str]:
        """Make the job's input files reachable by workers; returns {run's path: where}."""
        ...

    def receive(self, stage: Stage[Any, R], key: str, result: R) -> bool:
        """Make the result's files present at its paths on this (the run's) machine; False
        when the storage does not have them."""
        ...

    def finish(self, *, used: set[tuple[str, str]] | None = None) -> None:
        """The run is over: forget the inputs it sent, and, given `used`, every result of a
        stage and key not in it (pruning)."""
        ...

    def workspace(self, cache_dir: Path) -> contextlib.AbstractContextManager[Path]:
        """A new empty folder for one task, removed with whatever is left in it afterwards."""
        ...

    def fetch(self, job: J, inputs: Mapping[str, str], space: Path) -> tuple[J, dict[Path, Path]]:
        """The job with its inputs as this worker reaches them, and the way back to the run's
        paths ({local path: run's path})."""
        ...

    def has(self, stage: Stage[Any, R], key: str, result: R) -> bool:
        """Whether the storage holds the result's files (a cached result a worker may skip)."""
        ...

    def keep(self, stage: Stage[Any, R], key: str, made: R, made_dir: Path, dest: Path) -> R:
        """Store the files made in `made_dir`; returns `made` with its paths under `dest`."""
        ...


def open_work_storage(config: ShowConfig) -> WorkStorage:
    if config.queue.work_storage == "s3":
        return S3Work(config)
    return SharedDisk()


def moved(made_dir: Path, dest: Path) -> Callable[[Path], Path]:
    """Paths under `made_dir` as they will be under `dest`; other paths as they are.

    >>> moved(Path("/tmp/x"), Path("/show/cache/normalise/k"))(Path("/tmp/x/podcast.mp3"))
    PosixPath('/show/cache/normalise/k/podcast.mp3')
    """
    return lambda p: dest / p.relative_to(made_dir) if p.is_relative_to(made_dir) else p


class SharedDisk:
    """The show folder on a disk every machine mounts at the same path."""

    def send(self, job: Any, hash_file: HashFn) -> dict[str, str]:
        return {}

    def receive(self, stage: Stage[Any, R], key: str, result: R) -> bool:
        return all(p.is_file() for p in stage.outputs(result))

    def finish(self, *, used: set[tuple[str, str]] | None = None) -> None:
        pass  # the cache's folders are pruned with the run's own (LocalExecutor.prune)

    @contextlib.contextmanager
    def workspace(self, cache_dir: Path) -> Iterator[Path]:
        # On the same disk as the cache, so the result moves into place by a rename.
        space = cache_dir / INCOMING / uuid.uuid4().hex
        try:
            space.mkdir(parents=True)
        except OSError as exc:
            raise _disk_error(cache_dir, exc) from exc
        try:
            yield space
        finally:
            shutil.rmtree(space, ignore_errors=True)

    def fetch(self, job: J, inputs: Mapping[str, str], space: Path) -> tuple[J, dict[Path, Path]]:
        for path in paths_in(job):
            if not path.exists():
                raise SetupError(
                    f"{path} is not on this worker's machine: mount the show folder at the same "
                    'path on every machine, or set [queue] work_storage = "s3" (docs/scaling.md).'
                )
        return job, {}

    def has(self, stage: Stage[Any, R], key: str, result: R) -> bool:
        return self.receive(stage, key, result)

    def keep(self, stage: Stage[Any, R], key: str, made: R, made_dir: Path, dest: Path) -> R:
        result = map_paths(made, moved(made_dir, dest))
        if not made_dir.exists():
            return result  # the stage wrote no files (transcribe)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(made_dir, dest)
        except OSError:
            # Another worker (the same task redelivered) or a killed run got there first.
            if all(p.is_file() for p in stage.outputs(result)):
                return result  # theirs is whole, and the same: keep it
            aside = dest.parent.parent / INCOMING / f"old-{uuid.uuid4().hex}"
            os.rename(dest, aside)
            os.rename(made_dir, dest)
            shutil.rmtree(aside, ignore_errors=True)
        return result


def _disk_error(where: Path, exc: OSError) -> WorkStorageUnavailable:
    return WorkStorageUnavailable(f"cannot write to the shared disk at {where}: {exc}")


class S3Work:
    """A private prefix of an S3 bucket, for workers that share no disk with the run."""

    def __init__(self, config: ShowConfig, *, client: Any = None) -> None:
        from fieldreports.s3 import make_s3_client

        queue = config.queue
        self.bucket = queue.work_bucket or config.storage.bucket
        prefix = queue.work_prefix.strip("/")
        self.prefix = f"{prefix}/" if prefix else ""
        self.client = client or make_s3_client(config.storage)
        self.scratch = config.state_dir / "worker"
        self._sent: set[str] = set()
        self._acl: dict[str, str] | None = {"ACL": "private"}

    def where(self, name: str = "") -> str:
        return f"s3://{self.bucket}/{self.prefix}{name}"

    # -- the run ----------------------------------------------------------------------------

    def send(self, job: Any, hash_file: HashFn) -> dict[str, str]:
        inputs = {}
        for path in paths_in(job):
            if not path.is_file():
                continue
            sha256, _ = hash_file(path)
            name = f"inputs/{sha256}{path.suffix.lower()}"
            if name not in self._sent and not self._exists(name):
                log.info("sending %s to %s", path.name, self.where("inputs/"))
                self._upload(path, name)
            self._sent.add(name)
            inputs[str(path)] = name
        return inputs

    def receive(self, stage: Stage[Any, R], key: str, result: R) -> bool:
        for path in stage.outputs(result):
            if path.is_file():
                continue
            name = f"results/{stage.name}/{key}/{path.name}"
            path.parent.mkdir(parents=True, exist_ok=True)
            if not self._download(name, path):
                return False
        return True

    def finish(self, *, used: set[tuple[str, str]] | None = None) -> None:
        for name in sorted(self._sent):
            self._delete(name)
        self._sent.clear()
        if used is None:
            return
        for name in self._list("results/"):
            _, stage, key, _ = name.split("/", 3)
            if (stage, key) not in used:
                self._delete(name)

    # -- a worker ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def workspace(self, cache_dir: Path) -> Iterator[Path]:
        # The worker's own disk: nothing of the run's machine is reachable here.
        self.scratch.mkdir(parents=True, exist_ok=True)
        space = Path(tempfile.mkdtemp(dir=self.scratch))
        try:
            yield space
        finally:
            shutil.rmtree(space, ignore_errors=True)  # the recording's copy goes too

    def fetch(self, job: J, inputs: Mapping[str, str], space: Path) -> tuple[J, dict[Path, Path]]:
        local: dict[Path, Path] = {}
        for path in paths_in(job):
            name = inputs.get(str(path))
            if name is None:
                continue
            copy = space / "inputs" / Path(name).name
            if not copy.exists():
                copy.parent.mkdir(parents=True, exist_ok=True)
                if not self._download(name, copy):
                    raise ReportError(
                        f"the recording is no longer in the work storage ({self.where(name)}): "
                        "the run that sent it has ended; run again",
                        path=path,
                    )
                if file_sha256(copy)[0] != Path(name).stem:
                    raise WorkStorageUnavailable(f"{self.where(name)} arrived damaged")
            local[path] = copy
        back = {copy: path for path, copy in local.items()}
        return map_paths(job, lambda p: local.get(p, p)), back

    def has(self, stage: Stage[Any, R], key: str, result: R) -> bool:
        return all(
            self._exists(f"results/{stage.name}/{key}/{p.name}") for p in stage.outputs(result)
        )

    def keep(self, stage: Stage[Any, R], key: str, made: R, made_dir: Path, dest: Path) -> R:
        for path in stage.outputs(made):
            self._upload(path, f"results/{stage.name}/{key}/{path.name}")
        return map_paths(made, moved(made_dir, dest))

    # -- S3 calls, their errors sorted into transient and not --------------------------------

    def _exists(self, name: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.prefix + name)
        except Exception as exc:
            if _missing(exc):
                return False
            raise self._error("look up", name, exc) from exc
        return True

    def _upload(self, path: Path, name: str) -> None:
        log.debug("upload %s -> %s", path, self.where(name))
        while True:
            try:
                self.client.upload_file(
                    str(path), self.bucket, self.prefix + name, ExtraArgs=self._acl or None
                )
                return
            except Exception as exc:
                # A bucket with ACLs switched off (the AWS default since 2023) refuses even
                # "private"; its objects are private unless a bucket policy says otherwise.
                if self._acl and _code(exc) in ("AccessControlListNotSupported", "NotImplemented"):
                    self._acl = None
                    continue
                raise self._error("upload", name, exc) from exc

    def _download(self, name: str, path: Path) -> bool:
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        try:
            self.client.download_file(self.bucket, self.prefix + name, str(temp))
            os.replace(temp, path)
        except Exception as exc:
            temp.unlink(missing_ok=True)
            if _missing(exc):
                return False
            raise self._error("download", name, exc) from exc
        return True

    def _delete(self, name: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + name)
        except Exception as exc:
            log.warning("could not delete %s: %s", self.where(name), exc)

    def _list(self, under: str) -> list[str]:
        names: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + under
            )
            for page in pages:
                names.extend(o["Key"][len(self.prefix) :] for o in page.get("Contents", ()))
        except Exception as exc:
            raise self._error("list", under, exc) from exc
        return names

    def _error(self, verb: str, name: str, exc: Exception) -> SetupError:
        if _transient(exc):
            return WorkStorageUnavailable(f"could not {verb} {self.where(name)}: {exc}")
        return SetupError(
            f"could not {verb} {self.where(name)}: {exc}. Check [queue] work_bucket and "
            "work_prefix, [storage] endpoint_url and this machine's S3 credentials."
        )


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _missing(exc: Exception) -> bool:
    return _code(exc) in ("404", "NoSuchKey", "NotFound")


def _transient(exc: Exception) -> bool:
    """A fault that may be gone in a moment: no answer, a 5xx, throttling."""
    response = getattr(exc, "response", None) or {}
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if status >= 500 or _code(exc) in ("SlowDown", "Throttling", "RequestTimeout"):
        return True
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, BotoCoreError | OSError) and not isinstance(exc, ClientError)
