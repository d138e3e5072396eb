"""Datasets from what a user has on disk, as one `Dataset` bundle (train and validation splits).

Spec strings: `digits` (scikit-learn's bundled 8x8 digits), `cifar10:DIR` (the python-version batches),
`mnist:DIR` (IDX files, optionally gzipped), `folder:DIR` (one sub-folder per class), `npz:FILE` (arrays
`x` and `y`). Every format problem raises a `DataError` naming the path and what was expected.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dsl.errors import ArchError
from . import safe_pickle

FORMATS = ("digits", "cifar10", "mnist", "folder", "npz")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
MAX_CLASSES = 100_000  # a label beyond this is a wrapped or wrong value, not a class index
MAX_IMAGE_PIXELS = 4096 * 4096  # per image in a folder, before any resize


class DataError(ArchError):
    """A dataset path that is missing or whose files are not in the expected format."""

    kind = "data"


@dataclass
class Dataset:
    """Train and validation splits (torch `TensorDataset`s of float images in [0, 1] and int64 labels)."""

    name: str
    train: object
    val: object
    num_classes: int
    input_shape: tuple[int, int, int]  # (C, H, W)
    classes: tuple[str, ...] = ()


def load_dataset(spec: str, *, val_fraction: float = 0.2, seed: int = 0,
                 image_size: int | tuple[int, int] | None = None) -> Dataset:
    """Load `spec` (see the module doc). Formats with their own test split (cifar10, mnist) use it as `val`;
    the others hold out `val_fraction` of the examples, chosen by `seed` (stratified-free random split)."""
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in FORMATS:
        raise DataError(f"unknown dataset {spec!r}; expected digits, cifar10:DIR, mnist:DIR, folder:DIR or npz:FILE")
    if kind != "digits" and not arg:
        raise DataError(f"dataset {kind!r} needs a path: {kind}:PATH")
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    classes: tuple[str, ...] = ()
    if kind == "cifar10":
        (xt, yt), (xv, yv), classes = _cifar10(Path(arg))
    elif kind == "mnist":
        (xt, yt), (xv, yv) = _mnist(Path(arg))
    else:
        if kind == "digits":
            x, y = _digits()
        elif kind == "folder":
            x, y, classes = _folder(Path(arg), image_size)
        else:
            x, y = _npz(Path(arg))
        (xt, yt), (xv, yv) = _split(x, y, val_fraction, seed, spec)
    num_classes = int(max(yt.max(initial=0), yv.max(initial=0))) + 1
    if classes:
        num_classes = len(classes)
    return Dataset(spec, _tensors(xt, yt), _tensors(xv, yv), num_classes, tuple(int(s) for s in xt.shape[1:]),
                   classes)


def _tensors(x: np.ndarray, y: np.ndarray):
    import torch
    from torch.utils.data import TensorDataset

    return TensorDataset(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
                         torch.from_numpy(np.asarray(y, dtype=np.int64)))


def _split(x, y, val_fraction, seed, spec):
    n = len(x)
    n_val = int(round(n * val_fraction))
    if n < 2 or n_val < 1 or n_val >= n:
        raise DataError(f"dataset {spec!r} has {n} example(s): too few to hold out a validation split")
    order = np.random.default_rng(seed).permutation(n)
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])


def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]  # (N, 8, 8) in 0..16 -> (N, 1, 8, 8) in [0, 1]
    return x, d.target.astype(np.int64)


def _need_dir(path: Path, what: str) -> None:
    if not path.exists():
        raise DataError(f"{what} directory not found: {path}")
    if not path.is_dir():
        raise DataError(f"{what} expects a directory, got a file: {path}")


def _cifar10(root: Path):
    _need_dir(root, "cifar10")
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    if not (root / names[0]).exists() and (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"  # where the archive was extracted: the folder it makes is inside
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise DataError(f"cifar10 directory {root} lacks {', '.join(missing)} "
                        "(expected the python-version batches data_batch_1..5 and test_batch)")

    def batch(name):
        path = root / name
        d = _unpickle(path)
        if isinstance(d, dict):
            d = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in d.items()}
        if not isinstance(d, dict) or "data" not in d or "labels" not in d:
            raise DataError(f"{path} is not a CIFAR-10 python batch (expected a dict with b'data' and b'labels')")
        data = _pixels(d["data"], path)
        labels = _labels(d["labels"], path, "labels", limit=10)
        if len(labels) != len(data):
            raise DataError(f"{path}: {len(data)} images but {len(labels)} labels")
        return data.reshape(-1, 3, 32, 32).astype(np.float32) / 255.0, labels

    parts = [batch(n) for n in names[:5]]
    train = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    classes: tuple[str, ...] = ()
    meta = root / "batches.meta"
    if meta.is_file():
        m = _unpickle(meta)  # a crafted meta file is refused like a crafted batch
        names = m.get(b"label_names", m.get("label_names")) if isinstance(m, dict) else None
        if isinstance(names, list) and len(names) == 10 and all(isinstance(n, (bytes, str)) for n in names):
            classes = tuple(n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names)
        # otherwise the names are a nicety; the labels alone suffice
    return train, batch("test_batch"), classes


def _unpickle(path: Path):
    """A CIFAR pickle through the restricted reader: data types only, never code."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        return safe_pickle.load(raw, encoding="bytes")
    except safe_pickle.RefusedGlobal as e:
        raise DataError(f"{path} is not a CIFAR-10 python batch: {e}; refusing to load it") from None
    except Exception as e:  # pickle raises many kinds on a foreign file
        raise DataError(f"{path} is not a CIFAR-10 python batch (cannot unpickle: {_short(e)})") from None


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _pixels(data, path: Path) -> np.ndarray:
    """CIFAR's `data`: an (N, 3072) array of bytes 0..255."""
    if not isinstance(data, np.ndarray) or not (np.issubdtype(data.dtype, np.integer) or data.dtype == np.bool_):
        kind = f"an array of {data.dtype}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: 'data' must be an (N, 3072) array of uint8 pixels, got {kind}")
    if data.ndim != 2 or data.shape[1] != 3072 or len(data) == 0:
        raise DataError(f"{path}: 'data' must have shape (N, 3072) with N >= 1, got {data.shape}")
    if data.dtype != np.uint8 and (data.min() < 0 or data.max() > 255):
        raise DataError(f"{path}: 'data' pixels must lie in 0..255, got {data.min()}..{data.max()}")
    return data.astype(np.uint8, copy=False)


def _labels(values, path: Path, what: str, limit: int | None = None) -> np.ndarray:
    """Class labels as int64: whole, non-negative numbers below `limit` (or MAX_CLASSES), checked before any cast
    that could wrap them."""
    expected = f"integer class labels 0..{(limit or MAX_CLASSES) - 1}"
    if isinstance(values, np.ndarray):
        y = values
    elif isinstance(values, (list, tuple)) and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                                     for v in values):
        y = np.asarray([int(v) for v in values], dtype=object) if values else np.zeros(0, np.int64)
    else:
        bad = next((v for v in values if not isinstance(v, (int, np.integer)) or isinstance(v, bool)), values) \
            if isinstance(values, (list, tuple)) else values
        raise DataError(f"{path}: '{what}' must be {expected}, got {type(bad).__name__} {_short_repr(bad)}")
    if y.dtype != object and not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path}: '{what}' must be {expected}, got an array of {y.dtype}")
    if y.ndim != 1:
        raise DataError(f"{path}: '{what}' must be one label per example (shape (N,)), got shape {y.shape}")
    if len(y):
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= (limit or MAX_CLASSES):
            culprit = low if low < 0 else high
            raise DataError(f"{path}: '{what}' must be {expected}, got {culprit}")
    return y.astype(np.int64)


def _short_repr(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_IDX = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _mnist(root: Path):
    _need_dir(root, "mnist")

    def find(name):
        for candidate in (root / name, root / (name + ".gz")):
            if candidate.is_file():
                return candidate
        raise DataError(f"mnist directory {root} lacks {name} (or {name}.gz)")

    def split(which):
        image_file, label_file = (find(n) for n in _IDX[which])
        images, labels = _read_idx(image_file), _read_idx(label_file)
        if images.ndim != 3:
            raise DataError(f"{image_file}: expected 3-d images (N, H, W), got {images.ndim}-d {images.shape}")
        if labels.ndim != 1:
            raise DataError(f"{label_file}: expected 1-d labels (N,), got {labels.ndim}-d {labels.shape}")
        if len(images) != len(labels):
            raise DataError(f"{image_file} holds {len(images)} images but {label_file.name} {len(labels)} labels")
        if len(images) == 0 or 0 in images.shape[1:]:
            raise DataError(f"{image_file}: expected at least one image of at least 1x1, got shape {images.shape}")
        return images[:, None].astype(np.float32) / 255.0, labels.astype(np.int64)

    train, test = split("train"), split("test")
    if train[0].shape[1:] != test[0].shape[1:]:
        (_, _, h, w), (_, _, th, tw) = train[0].shape, test[0].shape
        raise DataError(f"mnist directory {root}: train images are {w}x{h} but test images are {tw}x{th}")
    return train, test


def _read_idx(path: Path) -> np.ndarray:
    """An IDX file: magic 0x0000 0x08 (unsigned bytes) ndim, then ndim big-endian uint32 sizes, then data."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] == 0:
        raise DataError(f"{path}: bad magic number {raw[:4].hex() or 'empty'} "
                        "(expected an IDX file of unsigned bytes, 0x000008xx)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    size = math.prod(dims)  # exact: np.prod would wrap for absurd headers
    if len(raw) - header != size:
        raise DataError(f"{path}: header says {dims} = {size} bytes of data, file has {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _folder(root: Path, image_size):
    _need_dir(root, "folder")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(f"folder {root} has no class sub-folders (expected one sub-folder of images per class)")
    from PIL import Image, UnidentifiedImageError

    size = (image_size, image_size) if isinstance(image_size, int) else image_size
    xs, ys, mode, first = [], [], None, None
    for label, d in enumerate(class_dirs):
        files = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"class folder {d} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        for p in files:
            try:
                with Image.open(p) as im:
                    _check_image_size(p, im.size)
                    if mode is None:
                        mode = "L" if im.mode in ("1", "L", "I;16", "I") else "RGB"
                    im = im.convert(mode)
                    if size is not None:
                        im = im.resize((size[1], size[0]))
                    a = np.asarray(im, dtype=np.float32) / 255.0
            except Image.DecompressionBombError as e:
                raise DataError(f"image {p} is too large to read safely ({_short(e)})") from None
            except (UnidentifiedImageError, OSError, ValueError) as e:
                empty = " (the file is empty)" if p.stat().st_size == 0 else ""
                raise DataError(f"cannot read image {p}{empty}: {_short(e)}") from None
            a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)  # (H, W[, C]) -> (C, H, W)
            if first is None:
                first = (p, a.shape)
                _check_memory(root, sum(len([f for f in c.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES])
                                        for c in class_dirs), a.shape)
            elif a.shape != first[1]:
                raise DataError(f"image {p} is {a.shape[2]}x{a.shape[1]} but {first[0]} is "
                                f"{first[1][2]}x{first[1][1]}; pass --image-size to resize them all")
            xs.append(a)
            ys.append(label)
    return np.stack(xs), np.asarray(ys, dtype=np.int64), tuple(d.name for d in class_dirs)


def _check_image_size(p: Path, size: tuple[int, int]) -> None:
    w, h = size
    if w < 1 or h < 1:
        raise DataError(f"image {p} is {w}x{h}: expected at least 1x1 pixels")
    if w * h > MAX_IMAGE_PIXELS:
        raise DataError(f"image {p} is {w}x{h} = {w * h:,} pixels; images may have at most {MAX_IMAGE_PIXELS:,} "
                        f"(shrink the files; --image-size resizes only after loading)")


def _check_memory(root: Path, count: int, shape: tuple[int, ...]) -> None:
    """Refuse a folder whose images, as float32 arrays of the first one's shape, would not fit in free memory."""
    need = count * math.prod(shape) * 4
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if need > have:
        raise DataError(f"folder {root}: {count:,} images of {shape[2]}x{shape[1]}x{shape[0]} need "
                        f"{need / 2**30:.1f} GiB as float32, only {have / 2**30:.1f} GiB is free; "
                        f"pass --image-size to shrink them")


def _npz(path: Path):
    if path.is_dir():
        raise DataError(f"npz expects a file, got a directory: {path}")
    if not path.is_file():
        raise DataError(f"npz file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("x", "y") if k not in z.files]
            if missing:
                raise DataError(f"{path} lacks array(s) {', '.join(repr(k) for k in missing)} "
                                f"(has {', '.join(z.files) or 'none'}); expected 'x' (N,C,H,W) or (N,H,W) and 'y' (N,)")
            x, y = z["x"], z["y"]
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"{path} is not a readable .npz file: {_short(e)}") from None
    if x.dtype.fields is not None or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)
                                          or x.dtype == np.bool_):
        raise DataError(f"{path}: 'x' must hold numbers (uint8 pixels or floats), got an array of {x.dtype}")
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise DataError(f"{path}: 'x' has shape {x.shape}; expected (N, C, H, W) or (N, H, W)")
    if 0 in x.shape:
        raise DataError(f"{path}: 'x' has shape {x.shape}; expected at least one example, channel, row and column")
    if y.dtype.fields is not None or y.dtype.kind not in "iu":
        raise DataError(f"{path}: 'y' must hold integer class labels 0..{MAX_CLASSES - 1}, "
                        f"got an array of {y.dtype}")
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{path}: 'y' has shape {y.shape}; expected ({len(x)},) labels")
    y = _labels(y, path, "y")
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        raise DataError(f"{path}: 'x' holds NaN or infinite values")
    # uint8 pixels are scaled to [0, 1] like the other formats; other arrays are taken as given.
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    return x, y
