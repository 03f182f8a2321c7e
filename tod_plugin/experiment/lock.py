"""An exclusive lock on a run folder: ``run.lock`` holding the owner's pid and host.

Created by a hard link of a complete temporary file (atomic, and fails when the lock exists), so of two commands on
one folder (two ``--resume``, or a resume while the run still goes) the second is refused with one
line. A lock whose process is gone (same host, pid not running: a SIGKILL, a power cut) is stale
and taken over. The lock belongs to the process: taking it again in the process that holds it
succeeds. It is released when the command ends, whatever its outcome (``release_all``, and at exit).
"""
import atexit
import os
import socket

from ..errors import ConfigError

LOCK_NAME = "run.lock"
_HELD = []  # the locks this process holds, for release_all()


class RunLocked(ConfigError):
    """Another live process holds the run folder's lock."""


class RunLock:
    def __init__(self, root):
        self.path = os.path.join(root, LOCK_NAME)
        self.held = False

    def acquire(self):
        """Take the lock, replacing a stale one; :class:`RunLocked` when a live process holds it."""
        for _ in range(2):
            if self._create():
                self.held = True
                _HELD.append(self)
                return self
            pid, host = self._owner()
            if pid == os.getpid() and host == socket.gethostname():
                self.held = True
                return self
            if not self._stale(pid, host):
                raise RunLocked(
                    f"run folder {os.path.dirname(self.path)} is in use by process {pid} on {host}; wait for it "
                    f"to finish (or, if that process is gone, delete {self.path})"
                )
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        raise RunLocked(f"run folder {os.path.dirname(self.path)}: another command is taking {self.path} at the "
                        "same time")

    def _create(self):
        """Write the lock file complete, then link it into place (fails if one exists): never half a lock."""
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(f"{os.getpid()} {socket.gethostname()}\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, self.path)
            return True
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)

    def release(self):
        if self.held:
            self.held = False
            _HELD.remove(self)
            pid, host = self._owner()
            if pid == os.getpid() and host == socket.gethostname():
                os.unlink(self.path)

    def _owner(self):
        """``(pid, host)`` written in the lock file; ``(None, None)`` for an unreadable or malformed one."""
        try:
            with open(self.path) as f:
                pid, host = f.read(200).split()
            return int(pid), host
        except (OSError, ValueError):
            return None, None

    @staticmethod
    def _stale(pid, host):
        """Whether the lock's process is gone: a malformed file, or a pid not running on this host."""
        if pid is None:
            return True
        if host != socket.gethostname():
            return False  # another node of a shared filesystem: its processes cannot be checked from here
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # alive, another user's
        return False


@atexit.register
def release_all():
    """Release every lock this process holds (the end of a command, whatever its outcome; and at exit)."""
    for lock in list(_HELD):
        lock.release()
