"""`archdsl report RUN_DIR`: one self-contained HTML page (and PNG plots) for a finished or running search.

`rundir` reads what `archdsl search` wrote, `stats` computes the figures' data (best so far, Pareto front, mean
accuracy per option), `plots` draws them with matplotlib, `page` assembles the HTML.
"""

from .page import write_report
from .rundir import Run, load_run

__all__ = ["Run", "load_run", "write_report"]
