"""`archdsl report RUN_DIR`: an HTML page (and PNG plots) for a finished or running search."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "report", help="one self-contained HTML page for a search: leaderboard, plots, the best network's graph",
        description="Read the --out directory of `archdsl search` (finished or still running) and write one HTML "
                    "page with everything inline: the leaderboard with each trial's choices, best-so-far against "
                    "trials and wall time, accuracy against MACs and parameters with the Pareto front, the mean "
                    "accuracy of each option of each decision, the top trials' learning curves, and the best "
                    "architecture's graph (needs Graphviz). The plots are also written as PNG files.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("-o", "--output", metavar="OUT.html", help="default: RUN_DIR/report.html")
    p.add_argument("--plots", metavar="DIR", help="where the PNG files go (default: OUT_plots/ next to the page)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..report import load_run, write_report

    r = load_run(args.run_dir)
    out = Path(args.output) if args.output else Path(args.run_dir) / "report.html"
    page, pngs = write_report(r, out, args.plots)
    print(f"report: {page} ({len(r.trials)} trials); plots: {pngs[0].parent}")
    return 0
