"""Temporary folders named after the process that owns them.

A render removes its folder in a ``finally`` block and the warm kernel
removes its own when it is killed, but a worker process killed with SIGKILL
runs neither: its folders would stay in the temporary directory for good.
Each folder's name carries its owner's pid, so the next process to render
removes those whose owner is gone.
"""

import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "dreamseed-report-"

_swept = set()


def make(kind, parent=None):
    """Create and return a private folder ``<PREFIX><kind>-<pid>-<random>``."""
    return tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-{os.getpid()}-", dir=parent)


def owner_pid(path):
    """Return the pid in a folder name made by ``make``, or None."""
    name = Path(path).name
    if not name.startswith(PREFIX):
        return None
    parts = name[len(PREFIX) :].split("-")
    try:
        return int(parts[1])
    except (IndexError, ValueError):
        return None


def remove_orphans(parent=None):
    """Remove the folders under ``parent`` whose owning process has ended."""
    removed = []
    for path in Path(parent or tempfile.gettempdir()).glob(PREFIX + "*"):
        pid = owner_pid(path)
        if pid is None or pid == os.getpid() or _is_running(pid):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def remove_orphans_once(parent=None):
    """``remove_orphans`` the first time this process asks for ``parent``."""
    key = (os.getpid(), str(parent or tempfile.gettempdir()))
    if key not in _swept:
        _swept.add(key)
        remove_orphans(parent)


def _is_running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        # Another user's process: running, and not ours to clean up.
        return True
    return True
