"""`archdsl report RUN_DIR`: one self-contained HTML page (and PNG plots) for a finished or running search.

`files` reads the run directory as untrusted input (regular files inside it, size caps), `values` checks each
value, `rundir` builds the `Run` (`run.py`: plain data), `stats` computes the figures' data (best so far,
Pareto front, mean accuracy per option), `plots` draws them with matplotlib, `html` is the one escaping path
and the page's fragments, `page` assembles the page. Nothing here imports Ray or torch.
"""

from .page import write_report
from .run import Run
from .rundir import NoSearchYet, load_run

__all__ = ["NoSearchYet", "Run", "load_run", "write_report"]
