"""Where a search keeps its state and trial checkpoints: a local/NFS path or a cloud URI, through pyarrow.

Tune writes the trials' checkpoints there from whichever node ran them; the driver reads the search
state, the best trial's weights and the results back from it. `s3://` takes an optional endpoint for
S3-compatible stores (MinIO, Ceph, moto); credentials come from the usual AWS environment variables.

Writes are atomic: on a local disk through a temporary file, fsync and rename; on an object store a single
PUT (an object appears whole or not at all). Conditional writes (`write_if`: only if the object is still the
version this process last saw) are what keeps two drivers from clobbering each other's state: on a local or
NFS disk a compare-and-rename under an exclusive `flock` on `.archdsl.lock` in the storage root; on S3 a PUT
with `If-Match` / `If-None-Match` (boto3); on GCS a compare then write (a narrow race remains there).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ..dsl.errors import ArchFileError

SCHEMES = ("s3", "gs")
CAS_LOCK = ".archdsl.lock"  # local storage: held while a conditional write compares and renames


class WriteConflict(Exception):
    """A conditional write found the object changed since this process last read or wrote it."""


@dataclass(frozen=True)
class StorageSpec:
    """What the user gave: a path or URI and an endpoint for S3-compatible stores (picklable, small)."""

    uri: str
    endpoint: str | None = None

    @property
    def is_remote(self) -> bool:
        return urlparse(self.uri).scheme in SCHEMES


def parse(uri: str, endpoint: str | None = None) -> StorageSpec:
    scheme = urlparse(uri).scheme
    if scheme and scheme not in SCHEMES and not (len(scheme) == 1 and os.name == "nt"):
        raise ArchFileError(f"--storage {uri}: unsupported scheme {scheme}://; use a path, s3://BUCKET/PREFIX "
                            f"or gs://BUCKET/PREFIX")
    if endpoint and scheme != "s3":
        raise ArchFileError("--storage-endpoint is only for s3:// storage (an S3-compatible store)")
    if not scheme:
        uri = str(Path(uri).expanduser().resolve())
    return StorageSpec(uri.rstrip("/"), endpoint)


class Storage:
    """A pyarrow filesystem and the root path of the search in it."""

    def __init__(self, spec: StorageSpec):
        import pyarrow.fs as pafs

        self.spec = spec
        u = urlparse(spec.uri)
        if u.scheme == "s3":
            endpoint = spec.endpoint
            kw = {}
            if endpoint:
                e = urlparse(endpoint if "://" in endpoint else f"http://{endpoint}")
                kw = dict(endpoint_override=e.netloc, scheme=e.scheme or "http")
            region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
            if region:
                kw["region"] = region
            self.fs = pafs.S3FileSystem(**kw)
            self.root = (u.netloc + u.path).rstrip("/")
        elif u.scheme == "gs":
            self.fs = pafs.GcsFileSystem()
            self.root = (u.netloc + u.path).rstrip("/")
        else:
            self.fs = pafs.LocalFileSystem()
            self.root = spec.uri
        self.local = not spec.is_remote

    def path(self, *parts: str) -> str:
        """The storage path of `parts` (relative, below the root). Names read from the state (a trial's attempt
        directories) could otherwise lead out of it: an absolute path or a `..` is refused in one line."""
        for p in parts:
            if p.startswith("/") or ".." in p.split("/") or "\x00" in p:
                raise ArchFileError(f"{p[:200]!r} is not a path inside the search storage {self.spec.uri}")
        return posixpath.join(self.root, *parts)

    def exists(self, rel: str) -> bool:
        import pyarrow.fs as pafs

        return self.fs.get_file_info(self.path(rel)).type != pafs.FileType.NotFound

    def read_bytes(self, rel: str) -> bytes | None:
        if self.local:
            return read_local(Path(self.path(rel)))
        try:
            with self.fs.open_input_stream(self.path(rel)) as f:
                return f.read()
        except (FileNotFoundError, OSError) as e:
            if isinstance(e, FileNotFoundError) or "not found" in str(e).lower() or "does not exist" in str(e):
                return None
            raise

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write atomically: readers see the old content or the new, never a part."""
        target = self.path(rel)
        if self.local:
            atomic_write(Path(target), data)
            return
        self.fs.create_dir(posixpath.dirname(target), recursive=True)
        with self.fs.open_output_stream(target) as f:  # one PUT
            f.write(data)

    # -- conditional writes: a version tag per object (a content hash locally, the ETag on S3) ---------

    def read_versioned(self, rel: str) -> tuple[bytes | None, str | None]:
        """The object's bytes and version tag; (None, None) when it does not exist."""
        if self.local:
            with self._cas():
                return _read_local(Path(self.path(rel)))
        if self._s3() is not None:
            client, bucket, key = self._s3_key(rel)
            try:
                r = client.get_object(Bucket=bucket, Key=key)
            except client.exceptions.NoSuchKey:
                return None, None
            return r["Body"].read(), r["ETag"]
        data = self.read_bytes(rel)
        return data, (_digest(data) if data is not None else None)

    def write_if(self, rel: str, data: bytes, tag: str | None, guard: tuple[str, str] | None = None) -> str:
        """Write `data` only if `rel` is still at version `tag` (None: does not exist) and, with `guard`
        `(other_rel, other_tag)`, that object is still at its version too; the new tag. `WriteConflict`
        otherwise, leaving everything as it was."""
        if self.local:
            with self._cas():
                for name, want in ([guard] if guard else []) + [(rel, tag)]:
                    if _read_local(Path(self.path(name)))[1] != want:
                        raise WriteConflict(name)
                atomic_write(Path(self.path(rel)), data)
                return _digest(data)
        if guard and self.read_versioned(guard[0])[1] != guard[1]:
            raise WriteConflict(guard[0])
        if self._s3() is not None:
            client, bucket, key = self._s3_key(rel)
            cond = {"IfMatch": tag} if tag is not None else {"IfNoneMatch": "*"}
            try:
                return client.put_object(Bucket=bucket, Key=key, Body=data, **cond)["ETag"]
            except client.exceptions.ClientError as e:
                if e.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict",
                                                               "NoSuchKey", "412", "409"):
                    raise WriteConflict(rel) from None
                raise
        if self.read_versioned(rel)[1] != tag:  # GCS through pyarrow: compare, then write
            raise WriteConflict(rel)
        self.write_bytes(rel, data)
        return _digest(data)

    def delete_if(self, rel: str, tag: str) -> bool:
        """Delete `rel` if it is still at version `tag`; whether it was deleted."""
        if self.local:
            with self._cas():
                if _read_local(Path(self.path(rel)))[1] != tag:
                    return False
                Path(self.path(rel)).unlink(missing_ok=True)
                return True
        if self.read_versioned(rel)[1] != tag:
            return False
        self.fs.delete_file(self.path(rel))
        return True

    @contextlib.contextmanager
    def _cas(self):
        import fcntl

        Path(self.root).mkdir(parents=True, exist_ok=True)
        with open(Path(self.root) / CAS_LOCK, "a") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            yield

    def _s3(self):
        """A boto3 S3 client for conditional writes (None for other stores)."""
        if urlparse(self.spec.uri).scheme != "s3":
            return None
        if "_client" not in self.__dict__:
            import boto3  # missing: the CLI names the extra that brings it

            region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
            endpoint = self.spec.endpoint
            if endpoint and "://" not in endpoint:
                endpoint = f"http://{endpoint}"
            self._client = boto3.client("s3", endpoint_url=endpoint or None, region_name=region)
        return self._client

    def _s3_key(self, rel: str):
        bucket, _, key = self.path(rel).partition("/")
        return self._s3(), bucket, key

    def download(self, rel: str, local_dir: Path) -> Path:
        """Copy the directory `rel` (e.g. a trial checkpoint) to `local_dir`."""
        import pyarrow.fs as pafs

        local_dir.mkdir(parents=True, exist_ok=True)
        pafs.copy_files(self.path(rel), str(local_dir), source_filesystem=self.fs,
                        destination_filesystem=pafs.LocalFileSystem())
        return local_dir

    def listdir(self, rel: str) -> list[str]:
        import pyarrow.fs as pafs

        sel = pafs.FileSelector(self.path(rel), allow_not_found=True)
        return sorted(posixpath.basename(i.path) for i in self.fs.get_file_info(sel))

    def check_reachable(self) -> None:
        """Fail before Ray starts if the storage cannot be written (wrong bucket, endpoint or credentials)."""
        probe = f".archdsl-probe-{uuid.uuid4().hex[:8]}"
        try:
            self.write_bytes(probe, b"ok")
            self.fs.delete_file(self.path(probe))
        except OSError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ArchFileError(f"cannot write to the search storage {self.spec.uri}: {first}") from None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_local(path: Path) -> tuple[bytes | None, str | None]:
    data = read_local(path)
    return (None, None) if data is None else (data, _digest(data))


def read_local(path: Path) -> bytes | None:
    """A local storage file's bytes (None: it does not exist). Only a regular file is read: a FIFO planted at
    `state.json` blocked the search for good, and a directory or a link loop there was a traceback; each is
    one line naming the path."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ArchFileError(f"cannot read {path} in the search storage: {e.strerror or e}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ArchFileError(f"{path} in the search storage is not a regular file (a directory, FIFO or "
                                f"device): the search keeps its state and lease there as plain files; move it away")
        with open(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash at any moment leaves the old file or the new one, whole. The
    temporary file is new (an unguessable name, created exclusively, never through a link) and the rename
    replaces `path` itself: a symbolic link planted at either name in a shared directory is never written
    through."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    try:
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # the rename itself is durable once the directory is synced
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, text.encode("utf-8"))
