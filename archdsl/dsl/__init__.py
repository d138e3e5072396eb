"""The language and its torch-free checker: parse, elaborate, infer shapes, print."""

from .api import CheckResult, Layer, build_graph, check, load
from .choices import Decision, decisions, resolve, space_size
from .elaborate import elaborate, ordered_inputs
from .errors import (
    ArchArgumentError,
    ArchError,
    ArchFileError,
    ArchNameError,
    ArchResourceError,
    ArchShapeError,
    ArchSyntaxError,
    ArchWarning,
    Span,
)
from .parser import parse, parse_file
from .printer import print_module
from .shape_infer import LayerInfo, infer_shapes

__all__ = [
    "ArchArgumentError", "ArchError", "ArchFileError", "ArchNameError", "ArchResourceError", "ArchShapeError",
    "ArchSyntaxError", "ArchWarning", "CheckResult", "Decision", "Layer", "LayerInfo", "Span", "build_graph", "check",
    "decisions", "elaborate", "infer_shapes", "load", "ordered_inputs", "parse", "parse_file", "print_module",
    "resolve", "space_size",
]
