"""A check result as Jupyter shows it (`CheckResult._repr_html_`): the per-layer table `archdsl check` prints,
as HTML. Plain strings only, so the torch-free checker can display itself; `archdsl.notebook` reuses `table`."""

from __future__ import annotations

import html

from .shape_infer import fmt

STYLE = ("<style>.archdsl td,.archdsl th{padding:2px 8px;text-align:left}.archdsl td.n{text-align:right;"
         "font-variant-numeric:tabular-nums}.archdsl caption{text-align:left;font-weight:bold}</style>")
MAX_ROWS = 400  # a 10,000-layer network shows its first rows and its totals


def _e(x) -> str:
    return html.escape(str(x))


def human(n: int) -> str:
    """A count with its unit: 25.56M, 4.09G."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def table(caption: str, head: list[str], rows: list[list], numeric: set[int], foot: list[str]) -> str:
    """An HTML table (cells escaped; columns in `numeric` right-aligned) and the lines of HTML `foot` under it."""
    out = [STYLE, f'<table class="archdsl"><caption>{_e(caption)}</caption><tr>']
    out += [f"<th>{_e(h)}</th>" for h in head] + ["</tr>"]
    for row in rows[:MAX_ROWS]:
        out.append("<tr>" + "".join(f'<td class="n">{_e(v)}</td>' if i in numeric else f"<td>{_e(v)}</td>"
                                    for i, v in enumerate(row)) + "</tr>")
    if len(rows) > MAX_ROWS:
        out.append(f'<tr><td colspan="{len(head)}">… {len(rows) - MAX_ROWS:,} more layers</td></tr>')
    out.append("</table>")
    out += [f"<p>{line}</p>" for line in foot]
    return "\n".join(out)


def check_html(r) -> str:
    """A `CheckResult` as the per-layer table `archdsl check` prints, in HTML, with the totals and a space's
    decisions."""
    rows = [[x.path, x.op, fmt(x.output_shape), f"{x.params:,}", f"{x.macs:,}"] for x in r.layers]
    foot = [f"<b>total</b>: {r.params:,} params ({human(r.params)}), {r.macs:,} MACs ({human(r.macs)}), "
            f"input {fmt(r.input_shape)} → output {fmt(r.output_shape)}"]
    if r.decisions:
        foot.append(f"<b>search space</b>: {_e(r.space_line())} (the table shows its first member)")
        foot += ["<code>" + _e(d.key) + "</code>: " + " | ".join(f"<code>{_e(o)}</code>" for o in d.options)
                 for d in r.decisions]
    return table(f"{r.name} ({r.file})", ["layer", "op", "output", "params", "MACs"], rows, {3, 4}, foot)
