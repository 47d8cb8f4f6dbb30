"""An output folder that appears whole or not at all.

Everything is written into a hidden temporary sibling of the target folder
(same parent, hence the same file system); only when every file is written
is it renamed into place.  An existing folder is replaced only with
``force=True``, and only after the new one is complete, so a failed or
diverged run never leaves a half-written folder and never destroys a good
one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


class OutputExists(FileExistsError):
    """The output folder exists and ``force`` was not given."""


def check_target(target, force: bool = False) -> Path:
    """Raise :class:`OutputExists` if ``target`` exists and ``force`` is false (or is a file).

    Call it before a long run so the user learns at once, not after the solve.
    """
    target = Path(target)
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            raise OutputExists(f"output path {target} exists and is not a folder")
        if not force:
            raise OutputExists(f"output folder {target} already exists; use --force to replace it")
    return target


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
