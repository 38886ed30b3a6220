"""Advisory file locks between processes: who owns a result file while a run writes it.

A :class:`FileLock` is an exclusive ``flock`` on a small lock file beside what it protects
(``.Democrat.json.lock`` beside ``Democrat.json``). The kernel releases it when its holder exits, however it
exits (SIGKILL included), so a lock is never stale. The holder removes the lock file when it releases the lock,
so finished runs leave nothing behind; a process that got the lock on a file that was removed meanwhile notices
(the path no longer names the file it locked) and tries again. Lock files stay empty (no disk blocks: a full disk
cannot stop a run from taking its locks).

``flock`` works on local filesystems; on NFS and most network filesystems it is unreliable, as SQLite's locks
are: give each machine its own share of the grid (README, "Scaling beyond one machine").
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class FileLock:
    """An exclusive, non-blocking lock on ``path`` (a lock file), held until :meth:`release`.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     a, b = FileLock(f"{d}/x.lock"), FileLock(f"{d}/x.lock")
    ...     first, second = a.acquire(), b.acquire()
    ...     a.release()
    ...     third = b.acquire()
    ...     b.release()
    >>> first, second, third
    (True, False, True)
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this process holds the lock."""
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock if it is free (never waits); ``True`` when held afterwards."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the holder before us removed it while we waited: lock the new one
        self._fd = fd
        return True

    def release(self) -> None:
        """Remove the lock file and release the lock (nothing when not held)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the open file ``fd``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)
