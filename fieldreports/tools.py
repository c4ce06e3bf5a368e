"""External programs (ffmpeg, ffprobe, sox) that are never waited on forever.

A stage that runs a program must not outlive its own deadline because of it: on a worker, a
task past its time limit is stopped, and the ffmpeg it started must stop with it, not be left
decoding for nobody. Three habits, each a helper here:

- a program that should answer at once (ffprobe) runs with a deadline: `run_tool`;
- a program streaming through a pipe is watched while we wait on that pipe (`Watchdog`): if it
  gives or takes nothing for `STALL_S` (a dead network disk, a decoder in a loop), it is
  killed, so the read or write returns and the stage fails with a reason. Time the caller
  spends elsewhere (Whisper working on a window) does not count;
- when a stage ends early (an error, a time limit, Ctrl+C), its programs are killed, not waited
  for: `stop`.

A worker killed outright (kill -9) takes its pipes with it: a decoder writing to a closed pipe
gets SIGPIPE and an encoder reading one gets end-of-file, so neither outlives it by more than
the moment it takes to notice.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from fieldreports.errors import StageTimeout

log = logging.getLogger(__name__)

#: How long a streaming program may give or take nothing before it is taken for stuck. ffmpeg
#: decodes hours of audio in seconds; nothing healthy stalls this long.
STALL_S = 300.0
#: How long a program that should answer at once (ffprobe reading a header) may take.
PROBE_TIMEOUT_S = 120.0


def run_tool(
    argv: Sequence[str], *, path: Path | None = None, timeout_s: float = PROBE_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(argv)` capturing text, killed after `timeout_s` (StageTimeout).

    >>> run_tool(["true"]).returncode
    0
    """
    log.debug("argv: %s", list(argv))
    try:
        return subprocess.run(
            list(argv), capture_output=True, text=True, check=False, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        raise StageTimeout(
            f"{argv[0]} did not finish within {timeout_s:g} s reading the file and was stopped; "
            "check the disk it is on, then run again",
            path=path,
        ) from None


def stop(*procs: subprocess.Popen[bytes] | None) -> None:
    """Kill what is still running of `procs` and reap them: for a stage that ends early."""
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.kill()
    for proc in procs:
        if proc is not None:
            proc.wait()


def finish(proc: subprocess.Popen[bytes], *, what: str, timeout_s: float = STALL_S) -> int:
    """Wait for a program whose input has ended; kill it (StageTimeout) if it does not exit."""
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stop(proc)
        raise StageTimeout(
            f"{what} did not finish {timeout_s:g} s after its input ended and was stopped"
        ) from None


class Watchdog:
    """Kills `proc` when one wait on its pipe (`with watchdog.waiting():`) lasts over `stall_s`.

    The killed program's pipe then ends, so the blocked read or write returns; `check()` turns
    that into a StageTimeout naming the program.
    """

    def __init__(self, proc: subprocess.Popen[bytes], *, what: str, stall_s: float = STALL_S):
        self.proc = proc
        self.what = what
        self.stall_s = stall_s
        self.fired = False
        self._since: float | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"watch {what}", daemon=True)
        self._thread.start()

    @contextmanager
    def waiting(self) -> Iterator[None]:
        self._since = time.monotonic()
        try:
            yield
        finally:
            self._since = None

    def close(self) -> None:
        self._done.set()

    def check(self, path: Path | None = None) -> None:
        if self.fired:
            raise StageTimeout(
                f"{self.what} gave no sound for {self.stall_s:g} s and was stopped (a stalled "
                "disk or a damaged file); run again, or check the file",
                path=path,
            )

    def _watch(self) -> None:
        while not self._done.wait(min(1.0, self.stall_s / 4)):
            since = self._since
            if since is not None and time.monotonic() - since > self.stall_s:
                if self.proc.poll() is None:
                    log.warning("%s stalled for %g s; stopping it", self.what, self.stall_s)
                    self.fired = True
                    self.proc.kill()
                return
