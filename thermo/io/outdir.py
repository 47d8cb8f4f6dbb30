"""An output folder that appears whole or not at all.

Everything is written into a hidden temporary sibling of the target folder
(same parent, hence the same file system); only when every file is written
is it renamed into place.  An existing folder is replaced only with
``force=True``, and only after the new one is complete, so a failed or
diverged run never leaves a half-written folder and never destroys a good
one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


class OutputPathError(OSError):
    """The output path cannot be used: below a file, in a system folder, not writable, the
    folder being worked in, or holding the run's own inputs.  Exit code 2, before solving."""


class OutputExists(OutputPathError, FileExistsError):
    """The output folder exists and ``force`` was not given, or it holds something that is
    not a thermo run (which ``force`` never deletes)."""


#: Folders of the operating system's own (virtual) files: nothing is written there.
SYSTEM_FOLDERS = (Path("/proc"), Path("/sys"), Path("/dev"))
#: Files that mark a folder as a thermo output: ``thermo run`` (summary.json) and
#: ``thermo optimize`` (optimize.json), each with the keys its writer always sets.
RUN_MARKERS = {"summary.json": ("schema_version", "scenario", "solver"),
               "optimize.json": ("scenario", "settings", "history")}


def output_name(name: str) -> str:
    """A folder name from a scenario's ``name``: path separators and ``..`` removed, so that
    the default ``runs/<name>`` stays in ``runs/`` (``name: ../../x`` once wrote two folders up,
    an absolute name anywhere).  ``'../../x'`` -> ``'x'``, ``'/etc/hall'`` -> ``'etc_hall'``."""
    parts = [p for p in str(name).replace("\\", "/").split("/") if p.strip() not in ("", ".", "..")]
    text = "_".join(p.strip() for p in parts).lstrip(".")
    text = "".join(c if c.isprintable() and c not in ':*?"<>|' else "_" for c in text)
    return text[:120] or "scenario"


def is_thermo_output(folder: Path) -> bool:
    """Whether ``folder`` holds a previous thermo run: one of :data:`RUN_MARKERS` that reads as
    a JSON object with its writer's keys (a folder of notes that happens to be the target is
    not one, and ``--force`` must not delete it)."""
    for marker, keys in RUN_MARKERS.items():
        try:
            data = json.loads((folder / marker).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and all(k in data for k in keys):
            return True
    return False


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_target(target, force: bool = False, inputs=()) -> Path:
    """Check that ``target`` can take a run's outputs, before a long run so that the user
    learns at once, not after the solve.  Raises :class:`OutputPathError` (or
    :class:`OutputExists`) when the path lies under a system folder (/proc, /sys, /dev) or
    below a file, is the folder being worked in (``--out .``) or one above it, would hold or
    replace one of ``inputs`` (the scenario file, a sensors file), cannot be written, exists
    without ``force``, is a file, or holds anything but a previous thermo run
    (:func:`is_thermo_output`; an empty folder counts as nothing to lose)."""
    target = Path(target)
    resolved = target.expanduser().resolve()
    for system in SYSTEM_FOLDERS:
        if _within(resolved, system):
            raise OutputPathError(f"output folder {target} lies in {system}, the operating system's own files; "
                                  "choose a folder of yours")
    for parent in reversed(resolved.parents):
        if parent.exists() and not parent.is_dir():
            raise OutputPathError(f"output folder {target} would lie below {parent}, which is a file")
    here = Path.cwd().resolve()
    if _within(here, resolved) or resolved == Path.home().resolve():
        what = ("the folder you are working in" if resolved == here else
                "a folder above the one you are working in" if _within(here, resolved) else "your home folder")
        raise OutputPathError(f"output folder {target} is {what}; replacing it would delete everything in it: "
                              "choose a new folder")
    for given in inputs:
        if given is None:
            continue
        source = Path(given).expanduser().resolve()
        if _within(source, resolved):
            raise OutputPathError(f"output folder {target} {'is' if source == resolved else 'holds'} the input "
                                  f"{given}; writing the outputs there would replace it: choose another --out")
    if (target.exists() or target.is_symlink()) and not target.is_dir():
        raise OutputExists(f"output path {target} exists and is not a folder")
    existing = next(p for p in [resolved, *resolved.parents] if p.exists() or p == p.parent)
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == resolved else f" ({existing}, where it would be created)"
        raise OutputPathError(f"output folder {target} cannot be written: no permission{where}")
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            raise OutputExists(f"output path {target} exists and is not a folder")
        if not force:
            raise OutputExists(f"output folder {target} already exists; use --force to replace it")
        if any(target.iterdir()) and not is_thermo_output(target):
            raise OutputExists(f"output folder {target} holds no thermo run (no summary.json or optimize.json "
                               "written by thermo), so --force does not replace it: choose another --out, or "
                               "empty it yourself")
    return target


def _folder_mode() -> int:
    """0o755 less the process's umask: the permissions of a folder made by ``mkdir``
    (``tempfile.mkdtemp`` makes 0o700, which kept a run's results from the group)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o755 & ~mask


@contextmanager
def atomic_directory(target, force: bool = False):
    """Context manager yielding a temporary folder (a ``Path``) to write into.

    On normal exit the temporary folder becomes ``target`` (replacing an existing
    one only when ``force``); on an exception it is deleted and ``target`` is left
    as it was.
    """
    target = check_target(target, force)
    parent = target.parent if str(target.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=parent))
    os.chmod(staging, _folder_mode())
    try:
        yield staging
        check_target(target, force)  # someone may have created it meanwhile
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=parent))
            os.rename(target, retired / target.name)
            try:
                os.rename(staging, target)
            except BaseException:
                os.rename(retired / target.name, target)
                raise
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
