"""Layers that change the height and width without weights: upsampling, padding, cropping, pixel shuffles."""

from __future__ import annotations

from .common import error, fmt, image
from .registry import BadArguments, Docs, Op, P, define, nn_builder


def _upsample_check(a, settings) -> None:
    if (a["scale"] is None) == (a["size"] is None):
        raise BadArguments("give exactly one of scale= (a factor) and size= (the output height and width)")
    if a["align_corners"] and a["mode"] != "bilinear":
        raise BadArguments('align_corners=true only applies to mode="bilinear" (PyTorch\'s rule)')


def _upsample_shape(d, a, shapes):
    c, h, w = image(d, shapes)
    if a["size"] is not None:
        return (c, *a["size"]), 0, 0
    return (c, h * a["scale"][0], w * a["scale"][1]), 0, 0


def _upsample_build(a, shapes, _):
    from torch import nn

    scale = tuple(float(s) for s in a["scale"]) if a["scale"] is not None else None
    corners = a["align_corners"] if a["mode"] == "bilinear" else None
    return nn.Upsample(size=a["size"], scale_factor=scale, mode=a["mode"], align_corners=corners)


def _upsample_label(a) -> str:
    how = f"x{fmt(a['scale'])}" if a["scale"] is not None else f"to {fmt(a['size'])}"
    return f"upsample {how}" + (", bilinear" if a["mode"] == "bilinear" else "")


define(Op(
    "upsample",
    (P("scale", "pair", None), P("size", "pair", None), P("mode", "str", "nearest", ("nearest", "bilinear")),
     P("align_corners", "bool", False)),
    "resize", "Upsampling by a whole factor (scale) or to a size; nearest or bilinear.",
    _upsample_shape, Docs("(C, H·scale_h, W·scale_w), or (C, size_h, size_w)"),
    build=_upsample_build, label=_upsample_label, defaults=_upsample_check, example="upsample(2)",
    synonyms=("interpolate", "upsampling", "resize", "upsample2d"),
))


def _resize_to_shape(d, a, shapes):
    x, ref = shapes
    if len(x) != 3 or len(ref) != 3:
        raise error(d, f"resize_to resizes an image to another image's height and width, got {fmt(x)} and {fmt(ref)}")
    return (x[0], ref[1], ref[2]), 0, 0


def _resize_to_check(a, settings) -> None:
    if a["align_corners"] and a["mode"] != "bilinear":
        raise BadArguments('align_corners=true only applies to mode="bilinear" (PyTorch\'s rule)')


def _resize_to_build(a, shapes, _):
    from .modules import ResizeTo

    return ResizeTo(a["mode"], a["align_corners"] if a["mode"] == "bilinear" else None)


# The size is read from @ref when the module runs, so a compiled network follows its input's size.
define(Op(
    "resize_to", (P("ref", "tensor"), P("mode", "str", "nearest", ("nearest", "bilinear")),
                  P("align_corners", "bool", False)),
    "resize", "Resizes to the height and width of the tensor @ref (a skip, or the network's @in), read as it runs.",
    _resize_to_shape, Docs("(C, H_ref, W_ref)"), build=_resize_to_build, defaults=_resize_to_check,
    label=lambda a: "resize_to" + (", bilinear" if a["mode"] == "bilinear" else ""),
    example='s = maxpool(2); @s conv(2, 1) resize_to(@in, mode="bilinear")',
    synonyms=("upsample_to", "interpolate_to", "resize_like", "upsample_like"),
))


def _pad_check(a, settings) -> None:
    if a["value"] != 0.0 and a["mode"] != "constant":
        raise BadArguments(f'value= is the fill of mode="constant"; mode="{a["mode"]}" copies the input\'s edge')


def _pad_shape(d, a, shapes):
    c, h, w = image(d, shapes)
    left, right, top, bottom = a["padding"]
    if a["mode"] == "reflect" and (max(top, bottom) >= h or max(left, right) >= w):
        raise error(d, f"reflect padding ({left}, {right}, {top}, {bottom}) must be smaller than the input's "
                       f"height {h} and width {w} (PyTorch's rule)")
    return (c, h + top + bottom, w + left + right), 0, 0


def _pad_build(a, shapes, _):
    from torch import nn

    if a["mode"] == "constant":
        return nn.ConstantPad2d(a["padding"], a["value"])
    return (nn.ReflectionPad2d if a["mode"] == "reflect" else nn.ReplicationPad2d)(a["padding"])


define(Op(
    "pad",
    (P("padding", "pad4"), P("value", "float", 0.0), P("mode", "str", "constant", ("constant", "reflect", "replicate"))),
    "resize", "Padding: n, (h, w) or (left, right, top, bottom); constant (value), reflect or replicate.",
    _pad_shape, Docs("(C, H + top + bottom, W + left + right)"), build=_pad_build, defaults=_pad_check,
    label=lambda a: f"pad {', '.join(map(str, a['padding']))}" + ("" if a["mode"] == "constant" else f" {a['mode']}"),
    example="pad((1, 2, 0, 3), mode=\"replicate\")", synonyms=("padding", "zeropad", "zero_pad", "zeropad2d"),
))


def _crop_window(d, s, h: int, w: int, why: str = ""):
    c, H, W = s
    if h > H or w > W:
        raise error(d, f"cannot crop {fmt(s)} to {h}x{w}{why}: the crop must fit inside the input")
    return (c, h, w), 0, 0


def _crop_shape(d, a, shapes):
    return _crop_window(d, image(d, shapes), a["height"], a["width"])


def _crop_build(a, shapes, _):
    from .modules import CenterCrop

    return CenterCrop(a["height"], a["width"])


define(Op(
    "crop", (P("height", "size"), P("width", "size")), "resize",
    "Centre crop to height x width (top and left offsets: half the difference, rounded down).",
    _crop_shape, Docs("(C, height, width)"), build=_crop_build,
    label=lambda a: f"crop {a['height']}x{a['width']}", example="crop(5, 6)", synonyms=("center_crop", "centercrop"), view=True,
))


def _crop_to_shape(d, a, shapes):
    x, ref = shapes
    if len(x) != 3 or len(ref) != 3:
        raise error(d, f"crop_to crops an image to another image's height and width, got {fmt(x)} and {fmt(ref)}")
    return _crop_window(d, x, ref[1], ref[2], f" (the height and width of its @ref, {fmt(ref)})")


def _crop_to_build(a, shapes, _):
    from .modules import CropTo

    return CropTo()


define(Op(
    "crop_to", (P("ref", "tensor"),), "resize",
    "Centre crop to the height and width of the tensor @ref (U-Net's skip connections), as crop.",
    _crop_to_shape, Docs("(C, H_ref, W_ref)"), build=_crop_to_build,
    example="s = maxpool(2); @in conv(2, 1) crop_to(@s)", view=True,
))


def _pixel_shuffle_shape(d, a, shapes):
    c, h, w = image(d, shapes)
    r = a["factor"]
    if c % (r * r):
        raise error(d, f"pixel_shuffle({r}) needs channels divisible by {r}*{r} = {r * r}, got {c}")
    return (c // (r * r), h * r, w * r), 0, 0


def _pixel_unshuffle_shape(d, a, shapes):
    c, h, w = image(d, shapes)
    r = a["factor"]
    if h % r or w % r:
        raise error(d, f"pixel_unshuffle({r}) needs a height and width divisible by {r}, got {h}x{w}")
    return (c * r * r, h // r, w // r), 0, 0


define(Op(
    "pixel_shuffle", (P("factor", "size"),), "resize",
    "Moves channels to space: (C·r², H, W) -> (C, H·r, W·r) (sub-pixel convolution).",
    _pixel_shuffle_shape, Docs("(C / r², H·r, W·r)"), build=nn_builder("PixelShuffle", "factor"),
    label=lambda a: f"pixel_shuffle {a['factor']}", example="pixel_shuffle(2)", synonyms=("depth_to_space",),
    view=True,  # a reshape: factor 1 may return the input's memory
))
define(Op(
    "pixel_unshuffle", (P("factor", "size"),), "resize",
    "Moves space to channels: (C, H·r, W·r) -> (C·r², H, W).",
    _pixel_unshuffle_shape, Docs("(C·r², H / r, W / r)"), build=nn_builder("PixelUnshuffle", "factor"),
    label=lambda a: f"pixel_unshuffle {a['factor']}", example="pixel_unshuffle(2)", synonyms=("space_to_depth",), view=True,
))
