"""One service per store: an exclusive OS lock on a file beside the database.

`assistant run` takes it before anything else touches the store or the exchange, and holds it
for the life of the process; the kernel releases it when the process ends, however it ends
(a SIGKILL included), so there is nothing stale to clean up. The holder's PID is written in
the file so that a second instance can say who holds it. The file itself is left in place:
removing it would let a third process lock a new file while the second still holds the old.

`flock` locks belong to an open file description, so two `StoreLock`s in one process
exclude each other too. The descriptor is not inherited by child processes.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from assistant.errors import InputError

# A holder writes its PID right after it locks; a reader that comes in between waits this
# long at most for it (and otherwise says the PID is unknown).
PID_WAIT_SECONDS = 1.0


class StoreLocked(InputError):
    """Another process holds the store."""

    def __init__(self, store: Path, lock: Path, pid: int | None) -> None:
        holder = f"PID {pid}" if pid is not None else "PID unknown"
        super().__init__(
            f"{store}: in use by another assistant run ({holder}; lock {lock}):"
            " one store, one service"
        )
        self.store = store
        self.lock = lock
        self.pid = pid


def lock_path(store: Path) -> Path:
    return store.with_name(store.name + ".lock")


class StoreLock:
    """`with StoreLock(store_path):` held until the block ends (or the process does)."""

    def __init__(self, store: str | Path) -> None:
        self.store = Path(store)
        self.path = lock_path(self.store)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock at once, or raise `StoreLocked` naming the holder's PID."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot open the store's lock: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise InputError(f"{self.path}: cannot lock the store: {exc.strerror}") from None
            raise StoreLocked(self.store, self.path, holder(self.path)) from None
        mine = f"{os.getpid()}\n".encode()
        os.pwrite(fd, mine, 0)
        os.ftruncate(fd, len(mine))
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor releases the lock

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def holder(path: Path) -> int | None:
    """The PID in a held lock file: the live process written there, waiting a moment for a
    holder that has just locked and not yet written it; None if none shows up."""
    deadline = time.monotonic() + PID_WAIT_SECONDS
    while True:
        pid = _read_pid(path)
        if pid is not None and _alive(pid):
            return pid
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


def _read_pid(path: Path) -> int | None:
    try:
        first = path.read_text(encoding="ascii", errors="replace").split("\n", 1)[0].strip()
    except OSError:
        return None
    return int(first) if first.isdigit() and int(first) > 0 else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True
