"""The run directory: checked first, locked, written beside ``--output``, swapped in when complete.

A run never writes into the directory the user named. It writes into a hidden sibling,
``.<name>.partial`` (same filesystem, so the final step is a rename), and only when the model,
the reports and the test metrics are all there does :meth:`RunDirectory.commit` put it in place of
``--output`` in one atomic swap (:func:`longtail.io_utils.replace_directory`). So:

- a typo in ``--data`` or ``--test-data``, a bad config, an exception or a kill -9 in the middle of
  an ``--overwrite`` run leave the old model in ``--output`` exactly as it was;
- an interrupted run's checkpoints wait in the partial directory for ``--resume``; a run that
  failed before its first checkpoint leaves nothing behind (no empty output directory);
- a second run on the same ``--output`` fails at once, naming the first one's pid
  (:func:`longtail.locks.hold_lock` on ``.<name>.lock``).

An existing directory that holds something other than a longtail run is never replaced: the run
refuses to start, because the swap would delete the user's files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from longtail.errors import LongtailError
from longtail.io_utils import replace_directory
from longtail.locks import hold_lock
from longtail.models.io import META_FILE
from longtail.paths import inside, same_path

CHECKPOINT_DIR = "checkpoint"


def partial_directory(output: Path) -> Path:
    """Where a run on ``output`` writes until it is complete."""
    return output.with_name(f".{output.name}.partial")


def lock_file(output: Path) -> Path:
    return output.with_name(f".{output.name}.lock")


#: what marks a directory as longtail's: a model, a report (a ``compare`` cell keeps only its
#: reports), a checkpoint
RUN_MARKERS = (META_FILE, "report.json", CHECKPOINT_DIR)


def holds_run(directory: Path) -> bool:
    """A finished run, a ``compare`` cell's reports, or an interrupted run (a checkpoint)."""
    return any((directory / name).exists() for name in RUN_MARKERS)


#: A cascade's finished first-stage folds (:mod:`longtail.training.cascade`): progress a
#: ``--resume`` keeps, like a checkpoint, though no model has trained yet.
CASCADE_FOLDS = ("cascade", "fold-*.json")


def _cascade_folds(directory: Path) -> list[Path]:
    folder, pattern = CASCADE_FOLDS
    return sorted((directory / folder).glob(pattern)) if (directory / folder).is_dir() else []


def _checkpoint_states(directory: Path) -> dict[str, int]:
    """Each checkpoint's ``state.json`` (written last) and each finished cascade fold, and when:
    what tells progress apart."""
    root = directory / CHECKPOINT_DIR
    states = {
        str(p.relative_to(directory)): p.stat().st_mtime_ns for p in _cascade_folds(directory)
    }
    if root.is_dir():
        states |= {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("state.json")}
    return states


def _has_checkpoint(directory: Path) -> bool:
    return (directory / CHECKPOINT_DIR).is_dir() or bool(_cascade_folds(directory))


def resumable_directory(output: Path) -> Path | None:
    """The directory whose checkpoint ``--resume`` continues: the partial one, else ``output``."""
    for directory in (partial_directory(output), output):
        if _has_checkpoint(directory):
            return directory
    return None


def _writable_ancestor(path: Path) -> Path:
    """The nearest existing folder above ``path`` (where the partial directory will be made)."""
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    return parent


def check_output(output: Path, *, resume: bool, overwrite: bool) -> None:
    """Every reason ``output`` cannot take this run, as one line, before any input is read."""
    if output.exists() and not output.is_dir():
        raise LongtailError(
            f"--output {output} is a file, not a directory; choose another --output"
        )
    folder = _writable_ancestor(output)
    if not folder.is_dir():
        raise LongtailError(
            f"--output {output}: {folder} is a file, not a folder; choose another --output"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LongtailError(
            f"--output {output}: cannot write in {folder} (permission denied); "
            "choose another --output"
        )
    if output.is_dir() and not holds_run(output):
        entries = sorted(p.name for p in output.iterdir())
        if entries:
            shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
            raise LongtailError(
                f"--output {output} already exists and is not a longtail run ({len(entries)} "
                f"entries: {shown}); a finished run replaces the whole directory, so choose a new "
                "or empty --output"
            )
    if resume:
        return
    if holds_run(output) and not overwrite:
        raise LongtailError(
            f"{output} already holds a run; pass --resume to continue it or --overwrite to "
            "replace it (the old run stays until the new one is complete)"
        )
    if _has_checkpoint(partial_directory(output)) and not overwrite:
        raise LongtailError(
            f"an interrupted run of {output} is waiting in {partial_directory(output)}; pass "
            "--resume to continue it or --overwrite to start over"
        )


def check_paths_outside(output: Path, paths: dict[str, str | os.PathLike[str] | None]) -> None:
    """Inputs and caches must not live inside ``output``: the finished run replaces it whole."""
    for flag, path in paths.items():
        if path is not None and (same_path(path, output) or inside(path, output)):
            raise LongtailError(
                f"{flag} {path} lies inside --output {output}, which is replaced as a whole when "
                f"the run completes; move it out of {output} (or choose another --output)"
            )


@dataclass
class RunDirectory:
    """``output``: what the user named; ``work``: where this run writes until :meth:`commit`."""

    output: Path
    work: Path
    is_main: bool

    def commit(self) -> None:
        """Put the complete run in place of ``output`` (main process only; one rename)."""
        if self.is_main:
            replace_directory(self.work, self.output)


@contextlib.contextmanager
def open_run_directory(
    output: str | os.PathLike[str], *, resume: bool, overwrite: bool, is_main: bool = True
) -> Iterator[RunDirectory]:
    """Lock and check ``output``, make the partial directory, and clean up after a failure.

    On ``--resume`` the partial directory's checkpoint is continued; a checkpoint found in
    ``output`` itself (a finished run, or a run interrupted by a longtail older than the partial
    directories) is copied into the partial directory first, so ``output`` is still untouched
    until the resumed run completes. A run that fails before it wrote a checkpoint removes the
    partial directory it made; one that fails later keeps it for ``--resume``, and so does a
    failed ``--resume`` of a partial directory that was already there.
    """
    output = Path(output)
    work = partial_directory(output)
    locked = (
        hold_lock(
            lock_file(output),
            busy=f"{output} is in use by another longtail run (pid {{pid}}); wait for it to "
            "finish or choose another --output",
        )
        if is_main
        else contextlib.nullcontext()
    )
    check_output(output, resume=resume, overwrite=overwrite)  # before anything is made
    parents = _make_parents(output) if is_main else []
    try:
        with locked:
            check_output(output, resume=resume, overwrite=overwrite)  # again, now it is ours
            made = is_main and _make_work_directory(output, work, resume=resume)
            states = _checkpoint_states(work)
            try:
                yield RunDirectory(output=output, work=work, is_main=is_main)
            except BaseException:
                if made and _checkpoint_states(work) == states:  # nothing this run could resume
                    shutil.rmtree(work, ignore_errors=True)
                raise
    except BaseException:
        for parent in reversed(parents):  # folders made for this run, if it left them empty
            with contextlib.suppress(OSError):
                parent.rmdir()
        raise


def _make_parents(output: Path) -> list[Path]:
    """Make the folders above ``output`` that are missing; returns them, outermost first."""
    missing = [p for p in reversed(output.absolute().parents) if not p.exists()]
    for folder in missing:
        try:
            folder.mkdir()
        except FileExistsError:
            pass
        except OSError as exc:
            raise LongtailError(
                f"--output {output}: cannot create {folder} ({exc.strerror or exc}); choose "
                "another --output"
            ) from None
    return missing


def _make_work_directory(output: Path, work: Path, *, resume: bool) -> bool:
    """Make (or keep, on ``--resume``) the partial directory; ``True`` if this call made it."""
    if resume and _has_checkpoint(work):
        return False
    shutil.rmtree(work, ignore_errors=True)  # an abandoned attempt (check_output allowed it)
    try:
        if resume and _has_checkpoint(output):
            shutil.copytree(output, work, symlinks=True)
        work.mkdir(parents=True, exist_ok=True)
        return True
    except OSError as exc:
        raise LongtailError(
            f"--output {output}: cannot create {work} ({exc.strerror or exc}); choose another --output"
        ) from None
