"""Reading .arch text safely: only regular files, never more than the size limit, one newline convention."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import ArchFileError, Span
from .limits import MAX_SOURCE_BYTES

BOM = "\ufeff"


def read_source(path: str | Path) -> str:
    """The text of an .arch file, or an `ArchFileError` saying why it cannot be read.

    Only regular files are read (a FIFO or a device such as /dev/zero is refused before it is opened, so
    nothing blocks), and at most `MAX_SOURCE_BYTES` + 1 bytes are read whatever the file's size.
    """
    span = Span(1, 1, 1, 1, file=str(path))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ArchFileError(f"no such file: {path}", span) from None
    except OSError as e:
        raise ArchFileError(f"cannot read {path}: {e.strerror}", span) from None
    if stat.S_ISDIR(st.st_mode):
        raise ArchFileError(f"{path} is a directory, not an .arch file", span)
    if not stat.S_ISREG(st.st_mode):
        raise ArchFileError(f"{path} is not a regular file (a device, FIFO or socket); archdsl reads .arch files", span)
    if st.st_size > MAX_SOURCE_BYTES:
        raise ArchFileError(too_big(path, st.st_size), span)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SOURCE_BYTES + 1)  # the file may have grown since stat
    except OSError as e:
        raise ArchFileError(f"cannot read {path}: {e.strerror}", span) from None
    if len(data) > MAX_SOURCE_BYTES:
        raise ArchFileError(too_big(path, None), span)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ArchFileError(
            f"{path} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})",
            Span(line, col, line, col + 1, file=str(path), source=data.decode("utf-8", "replace")),
        ) from None


def too_big(what, size: int | None) -> str:
    size_text = f"{size:,} bytes" if size is not None else f"over {MAX_SOURCE_BYTES:,} bytes"
    return f"{what} is {size_text}; archdsl reads files up to {MAX_SOURCE_BYTES:,}"


def normalise(text: str) -> str:
    """One newline convention (CR LF and lone CR become LF) and no byte-order mark, so that every line and
    column the parser reports is the one an editor shows."""
    if text.startswith(BOM):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def lines(text: str) -> list[str]:
    """Lines as the parser counts them: split at LF only (str.splitlines also splits at U+2028, FF, ...)."""
    return text.split("\n")
