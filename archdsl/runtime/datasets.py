"""Datasets from what a user has on disk, as one `Dataset` bundle (train and validation splits).

Spec strings: `digits` (scikit-learn's bundled 8x8 digits), `cifar10:DIR` (the python-version batches),
`mnist:DIR` (IDX files, optionally gzipped), `folder:DIR` (one sub-folder per class), `npz:FILE` (arrays
`x` and `y`). Every format problem raises a `DataError` naming the path and what was expected.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dsl.errors import ArchError

FORMATS = ("digits", "cifar10", "mnist", "folder", "npz")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


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
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise DataError(f"cifar10 directory {root} lacks {', '.join(missing)} "
                        "(expected the python-version batches data_batch_1..5 and test_batch)")

    def batch(name):
        path = root / name
        try:
            with open(path, "rb") as f:
                d = pickle.load(f, encoding="bytes")
        except Exception as e:  # pickle raises many kinds on a foreign file
            raise DataError(f"{path} is not a CIFAR-10 python batch (cannot unpickle: {e})") from None
        if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
            raise DataError(f"{path} is not a CIFAR-10 python batch (expected a dict with b'data' and b'labels')")
        data = np.asarray(d[b"data"], dtype=np.uint8)
        labels = np.asarray(d[b"labels"], dtype=np.int64)
        if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
            raise DataError(f"{path}: expected data of shape (N, 3072) and N labels, got {data.shape} and "
                            f"{len(labels)}")
        return data.reshape(-1, 3, 32, 32).astype(np.float32) / 255.0, labels

    parts = [batch(n) for n in names[:5]]
    train = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    classes: tuple[str, ...] = ()
    meta = root / "batches.meta"
    if meta.is_file():
        try:
            with open(meta, "rb") as f:
                m = pickle.load(f, encoding="bytes")
            classes = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in m[b"label_names"])
        except Exception:
            classes = ()  # the names are a nicety; the labels alone suffice
    return train, batch("test_batch"), classes


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
        images, labels = (_read_idx(find(n)) for n in _IDX[which])
        if images.ndim != 3 or labels.ndim != 1:
            raise DataError(f"mnist {which} files: expected 3-d images and 1-d labels, got {images.ndim}-d and "
                            f"{labels.ndim}-d")
        if len(images) != len(labels):
            raise DataError(f"mnist {which} files: {len(images)} images but {len(labels)} labels")
        return images[:, None].astype(np.float32) / 255.0, labels.astype(np.int64)

    return split("train"), split("test")


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
    size = int(np.prod(dims))
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
                    if mode is None:
                        mode = "L" if im.mode in ("1", "L", "I;16", "I") else "RGB"
                    im = im.convert(mode)
                    if size is not None:
                        im = im.resize((size[1], size[0]))
                    a = np.asarray(im, dtype=np.float32) / 255.0
            except (UnidentifiedImageError, OSError) as e:
                raise DataError(f"cannot read image {p}: {e}") from None
            a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)  # (H, W[, C]) -> (C, H, W)
            if first is None:
                first = (p, a.shape)
            elif a.shape != first[1]:
                raise DataError(f"image {p} is {a.shape[2]}x{a.shape[1]} but {first[0]} is "
                                f"{first[1][2]}x{first[1][1]}; pass --image-size to resize them all")
            xs.append(a)
            ys.append(label)
    return np.stack(xs), np.asarray(ys, dtype=np.int64), tuple(d.name for d in class_dirs)


def _npz(path: Path):
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
        raise DataError(f"{path} is not a readable .npz file: {e}") from None
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise DataError(f"{path}: 'x' has shape {x.shape}; expected (N, C, H, W) or (N, H, W)")
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{path}: 'y' has shape {y.shape}; expected ({len(x)},) labels")
    if not np.issubdtype(y.dtype, np.integer) or (len(y) and y.min() < 0):
        raise DataError(f"{path}: 'y' must hold non-negative integer class labels, got dtype {y.dtype}")
    # uint8 pixels are scaled to [0, 1] like the other formats; float arrays are taken as given.
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    return x, y.astype(np.int64)
