"""`archdsl report RUN_DIR`: an HTML page (and PNG plots) for a finished or running search."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "report", help="one self-contained HTML page for a search: leaderboard, plots, the best network's graph",
        description="Read the --out directory of `archdsl search` (finished or still running) and write one HTML "
                    "page with everything inline: the leaderboard with each trial's choices, best-so-far against "
                    "trials and wall time, accuracy against MACs and parameters with the Pareto front, the mean "
                    "accuracy of each option of each decision, the top trials' learning curves, and the best "
                    "architecture's graph (needs Graphviz). The plots are also written as PNG files. Only "
                    "regular files inside RUN_DIR (and --storage, when given) are read.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("-o", "--output", metavar="OUT.html", help="default: RUN_DIR/report.html")
    p.add_argument("--plots", metavar="DIR", help="where the PNG files go (default: OUT_plots/ next to the page)")
    p.add_argument("--watch", type=_seconds, metavar="SECONDS",
                   help="rewrite the page every SECONDS until the search has finished (the open page reloads "
                        "itself); started before the search, it waits for the search to appear")
    p.add_argument("--storage", metavar="PATH_OR_URI",
                   help="the search's --storage when it is not RUN_DIR/ray (a path, s3://... or gs://...); the "
                        "report never follows a storage named inside RUN_DIR by itself")
    p.add_argument("--storage-endpoint", metavar="URL", help="an S3-compatible store's URL, for s3:// storage")
    p.set_defaults(run=run)


def _seconds(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of seconds >= 1, got {text!r}")
    return n


def run(args) -> int:
    import matplotlib  # noqa: F401  (missing: main names `pip install 'archdsl[report]'`, before any work)

    from ..dsl.errors import ArchFileError
    from ..report import NoSearchYet, load_run, write_report

    out = Path(args.output) if args.output else Path(args.run_dir) / "report.html"
    waiting, said = False, set()
    while True:
        try:
            r = load_run(args.run_dir, args.storage, args.storage_endpoint)
        except NoSearchYet as e:
            if not args.watch:
                raise
            if not waiting:  # say it once, then wait quietly for the search to write its settings
                print(f"report: waiting for a search in {args.run_dir} ({e.message})",
                      flush=True)
                waiting = True
            time.sleep(args.watch)
            continue
        try:
            page, pngs = write_report(r, out, args.plots, refresh=args.watch)
        except OSError as e:
            raise ArchFileError(f"cannot write the report to {e.filename or out}: {e.strerror or e}") from None
        state = "finished" if r.finished else f"stopped: {r.driver_gone}" if r.driver_gone else "running"
        plots = f"; plots: {pngs[0].parent}" if pngs else "; no plots yet"
        print(f"report: {page} ({len(r.trials)} trials, {state}){plots}", flush=True)
        for note in r.notes:
            if note not in said:  # each once, not at every --watch round
                said.add(note)
                print(f"report: note: {note}", flush=True)
        if not args.watch or r.finished or r.driver_gone:  # a dead driver's search changes only when resumed
            return 0
        time.sleep(args.watch)
