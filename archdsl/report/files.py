"""The report's only way to read a run: regular files below a directory the user named, each up to a size cap.

A run directory is input the report does not trust (it may be shared, copied from elsewhere or crafted). So
no path component below the named directory may be a symbolic link (each is opened with O_NOFOLLOW, relative
to its parent's descriptor, so a swap between check and open cannot redirect it), the file must be regular
(a FIFO would block, a device would never end) and not a hard link to a file that has other names (one made
inside the run directory to a file outside it would read as a regular file; a file's links cannot be told
apart), and it is read up to its cap and refused beyond. One kind of hard link is read: a run directory
copied with `cp -al` next to the original, where every other name of the file is found at the same relative
path in a directory beside the run directory (so each name is another run's copy of the same file, none a file
from elsewhere). A file with any other name, even one that is in fact another copy elsewhere, is refused with
the advice to copy with `cp -a`: a file's other names cannot be listed, only counted. Paths taken
from the run's own files (a trial's attempt directory) must stay below the root: no `..`, no absolute paths.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

MB = 1 << 20
# Per file name: the most the report reads (a real search's files are far smaller).
CAPS = {"settings.yaml": 1 * MB, "trials.json": 64 * MB, "state.json": 256 * MB, "result.json": 16 * MB,
        "metrics.jsonl": 4 * MB, "best.arch": 4 * MB, "lease.json": 1 * MB}
DEFAULT_CAP = 4 * MB
_PART = re.compile(r"[^/\x00]+")


class Refused(Exception):
    """A file the report will not read, and why (shown on the page as a note: `where: why`)."""

    def __init__(self, where: str, why: str):
        super().__init__(f"{where}: {why}")
        self.where, self.why = where, why


def cap_of(rel: str) -> int:
    return CAPS.get(rel.rsplit("/", 1)[-1], DEFAULT_CAP)


def parts(rel: str) -> list[str]:
    """`rel` split into components; a path that could leave the root is refused."""
    items = rel.split("/")
    if not rel or any(p in ("", ".", "..") or not _PART.fullmatch(p) for p in items):
        raise Refused(repr(rel), "not a path inside the run directory")
    return items


class LocalTree:
    """Files below `root` (a directory the user named on the command line; it may itself be a link)."""

    def __init__(self, root: str | Path, prefix: str = ""):
        self.root = Path(root)
        self.prefix = prefix  # e.g. "ray": the default search storage inside the run directory

    def where(self, rel: str) -> str:
        return str(self.root / self.prefix / rel) if self.prefix else str(self.root / rel)

    def _full(self, rel: str) -> list[str]:
        return (parts(self.prefix) if self.prefix else []) + parts(rel)

    def _walk(self, dirs: list[str], rel: str) -> int | None:
        """A descriptor of the directory `dirs` below the root (None: it does not exist)."""
        try:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            if e.errno == errno.ENOENT:
                return None
            raise Refused(str(self.root), str(e.strerror or e)) from None
        try:
            for name in dirs:
                nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = nxt
        except OSError as e:
            os.close(fd)
            if e.errno == errno.ENOENT:
                return None
            raise self._why(e, rel) from None
        return fd

    def _why(self, e: OSError, rel: str) -> Refused:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            return Refused(self.where(rel), "a symbolic link, or below one (the report reads only regular files "
                                            "inside the directory it was given); not read")
        return Refused(self.where(rel), str(e.strerror or e))

    def read(self, rel: str, cap: int | None = None) -> bytes | None:
        """The file's bytes, None when it does not exist; `Refused` for anything but a regular file in cap."""
        cap = cap_of(rel) if cap is None else cap
        *dirs, name = self._full(rel)
        dfd = self._walk(dirs, rel)
        if dfd is None:
            return None
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dfd)
        except OSError as e:
            if e.errno == errno.ENOENT:
                return None
            raise self._why(e, rel) from None
        finally:
            os.close(dfd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise Refused(self.where(rel), "not a regular file (a FIFO, device or directory); not read")
            if st.st_nlink > 1 and not self._copies(self._full(rel), st):
                raise Refused(self.where(rel), f"a hard link (its file has {st.st_nlink} names, and another may be "
                                               f"outside the directory the report was given); not read: a run "
                                               f"copied with `cp -al` is read only beside the original, elsewhere "
                                               f"copy it with `cp -a`")
            chunks, size = [], 0
            while size <= cap:
                chunk = os.read(fd, min(cap + 1 - size, MB))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            data = b"".join(chunks)
        finally:
            os.close(fd)
        if len(data) > cap:
            raise Refused(self.where(rel), f"larger than the {cap // MB} MB the report reads from it; not read")
        return data

    def _copies(self, full: list[str], st: os.stat_result) -> bool:
        """Whether every other name of the file `st` is `full` below a directory beside the root (`cp -al RUN
        COPY`: the same relative name in each copy of the run). Each directory on the way is opened without
        following links, as the root's own files are."""
        parent, own = os.path.split(os.path.realpath(self.root))
        try:
            pfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return False
        found = 1  # this name
        try:
            for name in os.listdir(pfd):
                if name == own:
                    continue
                other = _stat_below(pfd, [name, *full])
                if other is not None and (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
                    found += 1
        finally:
            os.close(pfd)
        return found == st.st_nlink

    def listdir(self, rel: str) -> list[str]:
        """The names in directory `rel` (empty when it does not exist)."""
        try:
            fd = self._walk(self._full(rel), rel)
        except Refused:
            return []
        if fd is None:
            return []
        try:
            return sorted(os.listdir(fd))
        finally:
            os.close(fd)


class StoreTree:
    """Files in a search storage (s3://, gs://) the user named with `--storage`, read with the same caps."""

    def __init__(self, uri: str, endpoint: str | None = None):
        from ..search.storage import Storage, parse  # pyarrow; no Ray

        self.store = Storage(parse(uri, endpoint))

    def where(self, rel: str) -> str:
        return self.store.path(rel)

    def read(self, rel: str, cap: int | None = None) -> bytes | None:
        cap = cap_of(rel) if cap is None else cap
        path = self.store.path(*parts(rel))
        try:
            with self.store.fs.open_input_stream(path) as f:
                data = f.read(cap + 1)
        except FileNotFoundError:
            return None
        except OSError as e:
            if "not found" in str(e).lower() or "does not exist" in str(e).lower():
                return None
            raise Refused(path, str(e)) from None
        if len(data) > cap:
            raise Refused(path, f"larger than the {cap // MB} MB the report reads from it; not read")
        return data

    def listdir(self, rel: str) -> list[str]:
        try:
            return self.store.listdir("/".join(parts(rel)))
        except OSError:
            return []


def _stat_below(fd: int, full: list[str]) -> os.stat_result | None:
    """The stat of `full` below the directory `fd` (no link followed on the way or at the end), or None."""
    fd = os.dup(fd)
    try:
        for name in full[:-1]:
            nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return os.stat(full[-1], dir_fd=fd, follow_symlinks=False)
    except OSError:
        return None
    finally:
        os.close(fd)
