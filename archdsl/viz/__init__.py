"""Pictures of checked networks: Graphviz DOT text (`dot.py`) and SVG/PNG through the `dot` program (`render.py`)."""

from .build import Drawing, draw_source
from .dot import to_dot
from .render import GraphvizMissing, render

__all__ = ["Drawing", "GraphvizMissing", "draw_source", "render", "to_dot"]
