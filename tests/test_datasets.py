"""Every dataset format read from real files written here, and each bad path or format's clear error."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest

from archdsl.dsl.errors import ArchError
from archdsl.runtime.datasets import DataError, load_dataset


def write_cifar10(root, n_per_batch=4, data_width=3072):
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        d = {b"data": rng.integers(0, 256, (n_per_batch, data_width), dtype=np.uint8),
             b"labels": [(i + j) % 10 for j in range(n_per_batch)]}
        (root / name).write_bytes(pickle.dumps(d))
    names = [f"class{k}".encode() for k in range(10)]
    (root / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}))
    return root


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(root, n_train=6, n_test=3, gz=False):
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    files = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % 10,
    }
    for name, a in files.items():
        raw = idx_bytes(np.asarray(a))
        if gz:
            (root / (name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (root / name).write_bytes(raw)
    return root


def write_folder(root, classes=("cat", "dog"), per_class=3, size=(6, 5), mode="RGB"):
    from PIL import Image

    rng = np.random.default_rng(2)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(root / c / f"{i}.png")
    return root


def test_digits_is_1x8x8_in_unit_range_with_ten_classes():
    d = load_dataset("digits", val_fraction=0.25, seed=3)
    x, y = d.train[0]
    assert d.input_shape == (1, 8, 8) and d.num_classes == 10 and d.name == "digits"
    assert len(d.train) + len(d.val) == 1797 and len(d.val) == round(1797 * 0.25)
    assert x.shape == (1, 8, 8) and 0.0 <= float(d.train.tensors[0].min()) and float(d.train.tensors[0].max()) <= 1.0
    assert d.train.tensors[0].max() == 1.0  # 16/16: scaled, not clipped


def test_digits_split_depends_on_seed_only():
    a, b, c = (load_dataset("digits", seed=s) for s in (0, 0, 1))
    assert (a.val.tensors[1] == b.val.tensors[1]).all()
    assert not (a.val.tensors[0] == c.val.tensors[0]).all()


def test_cifar10_batches_become_3x32x32_with_test_split_as_val(tmp_path):
    root = write_cifar10(tmp_path / "cifar")
    d = load_dataset(f"cifar10:{root}")
    assert d.input_shape == (3, 32, 32) and len(d.train) == 20 and len(d.val) == 4
    assert d.num_classes == 10 and d.classes[3] == "class3"
    raw = pickle.loads((root / "data_batch_1").read_bytes())[b"data"][0]
    x, y = d.train[0]
    # channel-major rows: the first 1024 bytes are the red plane
    assert np.allclose(x[0].numpy().ravel(), raw[:1024] / 255.0) and int(y) == 0


def test_cifar10_also_reads_the_folder_the_archive_was_extracted_into(tmp_path):
    write_cifar10(tmp_path / "downloads" / "cifar-10-batches-py")
    d = load_dataset(f"cifar10:{tmp_path / 'downloads'}")
    assert d.input_shape == (3, 32, 32) and len(d.train) == 20 and len(d.val) == 4


def test_mnist_idx_files_plain_and_gzipped(tmp_path):
    for gz in (False, True):
        root = write_mnist(tmp_path / f"mnist{gz}", gz=gz)
        d = load_dataset(f"mnist:{root}")
        assert d.input_shape == (1, 28, 28) and len(d.train) == 6 and len(d.val) == 3
        assert d.train.tensors[1].tolist() == [0, 1, 2, 3, 4, 5]


def test_folder_reads_one_class_per_subfolder(tmp_path):
    root = write_folder(tmp_path / "imgs", classes=("b_dog", "a_cat"), per_class=5)
    d = load_dataset(f"folder:{root}", val_fraction=0.2)
    assert d.input_shape == (3, 5, 6) and d.classes == ("a_cat", "b_dog") and d.num_classes == 2
    assert len(d.train) == 8 and len(d.val) == 2


def test_folder_resizes_with_image_size_and_keeps_grayscale(tmp_path):
    root = write_folder(tmp_path / "gray", mode="L", size=(9, 7))
    d = load_dataset(f"folder:{root}", image_size=4)
    assert d.input_shape == (1, 4, 4)


def test_npz_accepts_nchw_and_nhw_and_scales_uint8(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (10, 2, 4, 4), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", x=x, y=np.arange(10) % 3)
    np.savez(tmp_path / "b.npz", x=np.zeros((10, 5, 5), np.float32), y=np.zeros(10, np.int64))
    a = load_dataset(f"npz:{tmp_path / 'a.npz'}")
    b = load_dataset(f"npz:{tmp_path / 'b.npz'}")
    assert a.input_shape == (2, 4, 4) and a.num_classes == 3 and float(a.train.tensors[0].max()) <= 1.0
    assert b.input_shape == (1, 5, 5)


def _corrupt(path, data=b"not a pickle at all"):
    path.write_bytes(data)


@pytest.mark.parametrize("case, message", [
    ("unknown", "unknown dataset"),
    ("no_path", "needs a path"),
    ("cifar_missing_dir", "directory not found"),
    ("cifar_missing_batch", "lacks data_batch_3"),
    ("cifar_not_pickle", "not a CIFAR-10 python batch"),
    ("cifar_wrong_width", "(N, 3072)"),
    ("cifar_missing_key", "b'labels'"),
    ("mnist_bad_magic", "bad magic number"),
    ("mnist_missing_file", "lacks t10k-labels-idx1-ubyte"),
    ("mnist_count_mismatch", "holds 6 images but train-labels-idx1-ubyte 4 labels"),
    ("mnist_truncated", "header says"),
    ("folder_empty", "no class sub-folders"),
    ("folder_class_without_images", "holds no images"),
    ("folder_sizes_differ", "--image-size"),
    ("folder_not_image", "cannot read image"),
    ("npz_missing", "npz file not found"),
    ("npz_is_dir", "npz expects a file, got a directory"),
    ("npz_missing_key", "lacks array(s) 'y'"),
    ("npz_bad_shape", "expected (N, C, H, W)"),
    ("npz_not_npz", "not a readable .npz"),
    ("npz_float_labels", "integer class labels"),
    ("path_is_file", "expects a directory"),
])
def test_bad_dataset_gives_data_error(tmp_path, case, message):
    spec = {"unknown": "imagenet:/x", "no_path": "mnist"}.get(case)
    if case.startswith("cifar"):
        root = tmp_path / "c"
        if case != "cifar_missing_dir":
            write_cifar10(root)
        if case == "cifar_missing_batch":
            (root / "data_batch_3").unlink()
        elif case == "cifar_not_pickle":
            _corrupt(root / "data_batch_2")
        elif case == "cifar_wrong_width":
            write_cifar10(root, data_width=100)
        elif case == "cifar_missing_key":
            (root / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((1, 3072), np.uint8)}))
        spec = f"cifar10:{root}"
    elif case.startswith("mnist"):
        root = write_mnist(tmp_path / "m")
        if case == "mnist_bad_magic":
            _corrupt(root / "train-images-idx3-ubyte", b"\x00\x00\x0d\x03" + bytes(12))
        elif case == "mnist_missing_file":
            (root / "t10k-labels-idx1-ubyte").unlink()
        elif case == "mnist_count_mismatch":
            (root / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(4)))
        elif case == "mnist_truncated":
            raw = (root / "t10k-images-idx3-ubyte").read_bytes()
            (root / "t10k-images-idx3-ubyte").write_bytes(raw[:-10])
        spec = f"mnist:{root}"
    elif case.startswith("folder"):
        root = tmp_path / "f"
        root.mkdir()
        if case == "folder_class_without_images":
            (root / "a").mkdir()
            (root / "a" / "notes.txt").write_text("x")
        elif case == "folder_sizes_differ":
            write_folder(root, classes=("a",), size=(4, 4))
            write_folder(root, classes=("b",), size=(5, 4))
        elif case == "folder_not_image":
            write_folder(root, classes=("a",))
            (root / "a" / "broken.png").write_bytes(b"garbage")
        spec = f"folder:{root}"
    elif case.startswith("npz"):
        path = tmp_path / "d.npz"
        if case == "npz_is_dir":
            path.mkdir()
        elif case == "npz_missing_key":
            np.savez(path, x=np.zeros((4, 1, 2, 2)))
        elif case == "npz_bad_shape":
            np.savez(path, x=np.zeros((4, 2)), y=np.zeros(4, np.int64))
        elif case == "npz_not_npz":
            path.write_bytes(b"hello")
        elif case == "npz_float_labels":
            np.savez(path, x=np.zeros((4, 2, 2)), y=np.zeros(4))
        spec = f"npz:{path}"
    elif case == "path_is_file":
        (tmp_path / "file").write_text("x")
        spec = f"mnist:{tmp_path / 'file'}"
    with pytest.raises(DataError) as e:
        load_dataset(spec)
    assert isinstance(e.value, ArchError)
    assert message in e.value.message, e.value.message


class _RunsCode:
    """Unpickling this calls `exec`, which writes a marker file: the shape of a malicious data file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


@pytest.mark.parametrize("where", ["data_batch_1", "test_batch", "batches.meta", "nested"])
def test_a_crafted_cifar_pickle_runs_nothing(tmp_path, where):
    root = write_cifar10(tmp_path / "c")
    marker = tmp_path / "marker"
    target = "data_batch_1" if where == "nested" else where
    payload = {b"data": np.zeros((4, 3072), np.uint8), b"labels": [_RunsCode(marker)] * 4} if where == "nested" \
        else _RunsCode(marker)
    (root / target).write_bytes(pickle.dumps(payload, protocol=2))
    pickle.loads((root / target).read_bytes())  # the oracle: plain pickle does run it ...
    assert marker.read_text() == "ran"
    marker.unlink()
    with pytest.raises(DataError, match=r"asks for (__builtin__|builtins)\.exec, which a data file never needs"):
        load_dataset(f"cifar10:{root}")  # ... the restricted reader does not
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_batches_of_every_pickle_protocol_load(tmp_path, protocol):
    root = write_cifar10(tmp_path / "c")
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch", "batches.meta"]:
        obj = pickle.loads((root / name).read_bytes())
        (root / name).write_bytes(pickle.dumps(obj, protocol=protocol))
    d = load_dataset(f"cifar10:{root}")
    assert d.input_shape == (3, 32, 32) and len(d.train) == 20 and d.classes[0] == "class0"


def _npz(tmp_path, **arrays):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return f"npz:{path}"


X4 = np.zeros((4, 2, 2), np.uint8)


@pytest.mark.parametrize("case, message", [
    ("cifar_negative_label", "'labels' must be integer class labels 0..9, got -1"),
    ("cifar_label_10", "'labels' must be integer class labels 0..9, got 10"),
    ("cifar_string_label", "'labels' must be integer class labels 0..9, got str 'cat'"),
    ("cifar_float_label", "got float 1.5"),
    ("cifar_bool_label", "got bool True"),
    ("cifar_data_not_array", "'data' must be an (N, 3072) array of uint8 pixels, got list"),
    ("cifar_data_floats", "got an array of float64"),
    ("cifar_data_out_of_range", "pixels must lie in 0..255"),
    ("cifar_empty", "with N >= 1"),
    ("cifar_label_count", "4 images but 3 labels"),
    ("npz_object", "not a readable .npz file: Object arrays cannot be loaded"),
    ("npz_bytes", "'x' must hold numbers (uint8 pixels or floats), got an array of |S3"),
    ("npz_structured", "'x' must hold numbers"),
    ("npz_zero_channels", "expected at least one example, channel, row and column"),
    ("npz_zero_examples", "expected at least one example"),
    ("npz_int8_wrapped", "'y' must be integer class labels 0..99999, got -128"),
    ("npz_uint64_huge", "got 18446744073709551615"),
    ("npz_beyond_classes", "got 100000"),
    ("npz_float_labels", "got an array of float32"),
    ("npz_bool_labels", "got an array of bool"),
    ("npz_string_labels", "got an array of <U1"),
    ("npz_structured_labels", "'y' must hold integer class labels"),
    ("npz_nan_pixels", "'x' holds NaN or infinite values"),
    ("folder_zero_size", "odd.png (the file is empty)"),
    ("folder_huge", "= 16,777,217 pixels; images may have at most 16,777,216"),
    ("folder_bomb", "is too large to read safely"),
    ("mnist_empty", "expected at least one image"),
    ("mnist_zero_width", "of at least 1x1"),
    ("mnist_sizes_differ", "train images are 28x28 but test images are 14x14"),
    ("mnist_labels_2d", "train-labels-idx1-ubyte: expected 1-d labels (N,), got 2-d (6, 2)"),
])
def test_every_bad_dataset_value_is_a_one_line_data_error_naming_the_file(tmp_path, case, message):
    kind = case.partition("_")[0]
    culprit = None
    if kind == "cifar":
        root = write_cifar10(tmp_path / "c")
        culprit = root / "data_batch_2"
        d = pickle.loads(culprit.read_bytes())
        change = {
            "cifar_negative_label": {b"labels": [0, -1, 2, 3]},
            "cifar_label_10": {b"labels": [0, 1, 10, 3]},
            "cifar_string_label": {b"labels": [0, "cat", 2, 3]},
            "cifar_float_label": {b"labels": [0, 1.5, 2, 3]},
            "cifar_bool_label": {b"labels": [True, 1, 2, 3]},
            "cifar_data_not_array": {b"data": [[0] * 3072] * 4},
            "cifar_data_floats": {b"data": np.zeros((4, 3072))},
            "cifar_data_out_of_range": {b"data": np.full((4, 3072), 300, np.int64)},
            "cifar_empty": {b"data": np.zeros((0, 3072), np.uint8), b"labels": []},
            "cifar_label_count": {b"labels": [0, 1, 2]},
        }[case]
        culprit.write_bytes(pickle.dumps({**d, **change}))
        spec = f"cifar10:{root}"
    elif kind == "npz":
        culprit = tmp_path / "d.npz"
        y4 = np.arange(4)
        arrays = {
            "npz_object": dict(x=np.array([object()] * 4, dtype=object), y=y4),
            "npz_bytes": dict(x=np.array([[[b"abc"]]] * 4), y=y4),
            "npz_structured": dict(x=np.zeros((4, 2, 2), dtype=[("a", "u1"), ("b", "f4")]), y=y4),
            "npz_zero_channels": dict(x=np.zeros((4, 0, 2, 2), np.uint8), y=y4),
            "npz_zero_examples": dict(x=np.zeros((0, 2, 2), np.uint8), y=np.zeros(0, np.int64)),
            "npz_int8_wrapped": dict(x=X4, y=np.array([0, 1, 127, 128], dtype=np.int64).astype(np.int8)),
            "npz_uint64_huge": dict(x=X4, y=np.array([0, 1, 2, 2**64 - 1], dtype=np.uint64)),
            "npz_beyond_classes": dict(x=X4, y=np.array([0, 1, 2, 100_000])),
            "npz_float_labels": dict(x=X4, y=np.array([0, 1, 2, 3], np.float32)),
            "npz_bool_labels": dict(x=X4, y=np.array([True, False, True, False])),
            "npz_string_labels": dict(x=X4, y=np.array(list("abcd"))),
            "npz_structured_labels": dict(x=X4, y=np.zeros(4, dtype=[("a", "i4")])),
            "npz_nan_pixels": dict(x=np.full((4, 2, 2), np.nan, np.float32), y=y4),
        }[case]
        np.savez(culprit, **arrays)  # an object array is pickled inside; np.load(allow_pickle=False) refuses it
        spec = f"npz:{culprit}"
    elif kind == "folder":
        from PIL import Image

        root = write_folder(tmp_path / "f")
        culprit = root / "cat" / "odd.png"
        if case == "folder_zero_size":
            culprit.write_bytes(b"")
        elif case == "folder_bomb":  # beyond PIL's own decompression-bomb limit
            Image.new("1", (20000, 20000)).save(culprit)
        else:  # a 1-bit image is small on disk and large in pixels: a decompression bomb in miniature
            Image.new("1", (4096 * 4096 + 1, 1)).save(culprit)
        spec = f"folder:{root}"
    else:
        root = write_mnist(tmp_path / "m")
        if case == "mnist_empty":
            culprit = root / "train-images-idx3-ubyte"
            culprit.write_bytes(idx_bytes(np.zeros((0, 28, 28))))
            (root / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(0)))
        elif case == "mnist_zero_width":
            culprit = root / "train-images-idx3-ubyte"
            culprit.write_bytes(idx_bytes(np.zeros((6, 28, 0))))
        elif case == "mnist_sizes_differ":
            (root / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((3, 14, 14))))
        elif case == "mnist_labels_2d":
            culprit = root / "train-labels-idx1-ubyte"
            culprit.write_bytes(idx_bytes(np.zeros((6, 2))))
        culprit = root if culprit is None else culprit
        spec = f"mnist:{root}"
    with pytest.raises(DataError) as e:
        load_dataset(spec)
    text = e.value.format()
    assert message in text and len(text.splitlines()) == 1, text
    assert str(culprit) in text, text
