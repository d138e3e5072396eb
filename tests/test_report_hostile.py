"""`archdsl report` on a run directory written by someone else: scripts in values never run, links and special
files are not followed, malformed values show as "—" with a note, never a traceback."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from report_rundir import make_run_dir

from archdsl.cli import main
from archdsl.report import NoSearchYet, load_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
# Run, it adds <b id="pwned">: the DOM Chromium dumps holds that id only if a script ran (the text of the
# payload spells it 'pw' + 'ned').
JS = "document.body.appendChild(Object.assign(document.createElement('b'),{id:'pw'+'ned'}))"
PAYLOADS = [f"<script>{JS}</script>", f'"><img src=x onerror="{JS}">', f"'><svg onload=\"{JS}\">",
            f"</code></td><script>{JS}</script>", f"</title></style><script>{JS}</script>"]


def _edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _report(run: Path, out: Path, *extra: str) -> str:
    assert main(["report", str(run), "-o", str(out), *extra]) == 0
    return out.read_text()


def _poison(run: Path) -> None:
    """Every value a person could plant in the run's files, each holding a script."""
    p = iter(PAYLOADS * 20)

    def rows(data):
        for row in data:
            row.update(trial_id=next(p), status=next(p), reason=next(p), epochs=next(p), arch=next(p),
                       choices={next(p): next(p), "stem": next(p)})
    _edit_json(run / "trials.json", rows)

    def log(state):
        trials = state["searcher"]["trials"]
        for tid in list(trials):
            e = trials.pop(tid)
            e.update(status="completed", reason=next(p), choices={next(p): next(p), "stem": next(p)})
            e["result"]["epoch"] = next(p)
            trials[next(p) + tid] = e
    _edit_json(run / "ray" / "state.json", log)
    settings = (run / "settings.yaml").read_text()
    (run / "settings.yaml").write_text(re.sub(r"(?m)^(space|strategy|data|epochs|samples): .*$",
                                              lambda m: f"{m.group(1)}: {json.dumps(next(p))}", settings))


def _dom(page: Path) -> str:
    res = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_scripts_planted_in_the_run_never_run_in_chromium(tmp_path):
    run = make_run_dir(tmp_path / "run", trials=3)
    _poison(run)
    page = _report(run, tmp_path / "r.html")
    assert "onerror=" not in page.replace("onerror=&quot;", "") and "<script" not in page
    dom = _dom(tmp_path / "r.html")
    assert 'id="pwned"' not in dom and "<script" not in dom and "<img src=\"x\"" not in dom
    assert dom.count("&lt;script&gt;") >= 5  # the values are there, as text
    # The two controls: the same page with a script let through unescaped is stopped by the CSP alone, and
    # without the CSP the script runs (so the check above can see a script that ran).
    raw = page.replace("</body>", f"<script>{JS}</script></body>")
    (tmp_path / "csp.html").write_text(raw)
    assert 'id="pwned"' not in _dom(tmp_path / "csp.html")
    (tmp_path / "nocsp.html").write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", raw))
    assert 'id="pwned"' in _dom(tmp_path / "nocsp.html")


ALLOWED = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "b", "code", "table", "tr", "th",
           "td", "figure", "img", "pre", "div", "ul", "li"}


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs = set(), set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.update(a for a, _ in attrs)


def assert_only_report_markup(page: str) -> None:
    """The page's own elements and attributes, nothing a value brought (no script, no handler)."""
    body = re.sub(r"<svg\b.*</svg>", "", page, flags=re.S)  # Graphviz's drawing, when dot is installed
    p = _Tags()
    p.feed(body)
    assert p.tags <= ALLOWED, p.tags - ALLOWED
    assert p.attrs <= {"lang", "charset", "http-equiv", "content", "id", "class", "title", "alt", "src"}, p.attrs
    assert "This figure could not be drawn (internal error" not in page


def test_planted_markup_stays_text(tmp_path):
    run = make_run_dir(tmp_path / "run", trials=3)
    _poison(run)
    page = _report(run, tmp_path / "r.html")
    assert_only_report_markup(page)
    assert '<meta http-equiv="Content-Security-Policy" content="default-src &#x27;none&#x27;' in page


def test_a_dollar_formula_in_a_choice_is_drawn_as_written(tmp_path):
    run = make_run_dir(tmp_path / "run", trials=3)

    def log(state):
        for e in state["searcher"]["trials"].values():
            e["choices"]["kernel"] = "$\\frac{a}{$"
    _edit_json(run / "ray" / "state.json", log)
    page = _report(run, tmp_path / "r.html")  # matplotlib's mathtext parser raised on it
    assert "$\\frac{a}{$" in page and 'id="decisions"><img' in page


def test_links_out_of_the_run_are_not_followed(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("network SECRET_OUTSIDE { input(1, 2, 2) }\n")
    other = make_run_dir(tmp_path / "other", trials=5, seed=7)
    run = make_run_dir(tmp_path / "run", trials=2, finished=False)
    (run / "best.arch").symlink_to(secret)
    shutil.rmtree(run / "ray")
    (run / "ray").symlink_to(other / "ray")  # another search's storage
    page = _report(run, tmp_path / "r.html")
    assert "SECRET_OUTSIDE" not in page
    assert "symbolic link" in page and "best.arch" in page
    assert "0003abcd" not in page  # none of the other search's trials (it has 5, this one 2 in its settings)


def test_hard_links_to_files_with_other_links_are_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("network SECRET_OUTSIDE { input(1, 2, 2) }\n")
    outside = tmp_path / "other.json"
    outside.write_text('{"epoch": 1, "val_acc": 0.123456789}\n')
    run = make_run_dir(tmp_path / "run", trials=2)
    (run / "best.arch").unlink()
    os.link(secret, run / "best.arch")  # the same file as one outside the run directory
    result = run / "ray" / "run1" / "trial_0000abcd" / "result.json"
    result.unlink()
    os.link(outside, result)
    page = _report(run, tmp_path / "r.html")
    assert "SECRET_OUTSIDE" not in page and "0.1234" not in page
    assert "best.arch: a hard link" in page and "trial_0000abcd/result.json: a hard link" in page
    os.unlink(secret)  # once it is the only name of its file, it is the run's own
    assert "SECRET_OUTSIDE" in _report(run, tmp_path / "r.html")


def test_a_run_copied_with_cp_al_beside_the_original_is_read_and_one_copied_elsewhere_says_use_cp_a(tmp_path, capsys):
    run = make_run_dir(tmp_path / "runs" / "a", trials=2)
    original = _report(run, tmp_path / "a.html")
    copy = tmp_path / "runs" / "b"
    subprocess.run(["cp", "-al", str(run), str(copy)], check=True)  # every file now has two names, a/x and b/x
    assert os.stat(copy / "best.arch").st_nlink == 2
    page = _report(copy, tmp_path / "b.html")
    assert "hard link" not in page and "not read" not in page, re.findall(r"[^>]*not read[^<]*", page)
    same = page.replace(str(copy), str(run)).replace("b_plots", "a_plots")
    assert same == original  # the run, as the original reads
    os.link(copy / "best.arch", tmp_path / "third.arch")  # a third name, not beside: refused
    page = _report(copy, tmp_path / "b.html")
    assert "best.arch: a hard link (its file has 3 names" in page and "copy it with `cp -a`" in page
    elsewhere = tmp_path / "elsewhere" / "copy"
    elsewhere.parent.mkdir()
    subprocess.run(["cp", "-al", str(run), str(elsewhere)], check=True)
    shutil.rmtree(copy)
    os.unlink(tmp_path / "third.arch")  # each file's two names: runs/a/x and elsewhere/copy/x, not beside
    assert main(["report", str(elsewhere), "-o", str(tmp_path / "e.html")]) == 1
    err = capsys.readouterr().err
    assert "settings.yaml: a hard link (its file has 2 names" in err and "copy it with `cp -a`" in err, err


def test_a_link_beside_the_run_under_the_same_name_does_not_vouch_for_one_from_elsewhere(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("network SECRET_OUTSIDE { input(1, 2, 2) }\n")
    run = make_run_dir(tmp_path / "runs" / "a", trials=2)
    (run / "best.arch").unlink()
    os.link(secret, run / "best.arch")
    (tmp_path / "runs" / "b").mkdir()
    os.link(secret, tmp_path / "runs" / "b" / "best.arch")  # the same relative name beside it, and a third name
    page = _report(run, tmp_path / "r.html")
    assert "SECRET_OUTSIDE" not in page and "best.arch: a hard link" in page


def test_a_storage_named_in_settings_is_read_only_when_given_on_the_command_line(tmp_path):
    other = make_run_dir(tmp_path / "other", trials=4, finished=False, seed=3)
    run = tmp_path / "run"
    run.mkdir()
    (run / "settings.yaml").write_text(f"space: s.arch\nsamples: 4\nstorage: {other / 'ray'}\n")
    r = load_run(run)
    assert r.trials == [] and any(f"--storage {other / 'ray'}" in n for n in r.notes), r.notes
    r = load_run(run, storage=str(other / "ray"))
    assert len(r.trials) == 4 and not r.notes


def _load_in_thread(run: Path):
    box = {}
    th = threading.Thread(target=lambda: box.update(run=load_run(run)), daemon=True)
    th.start()
    th.join(30)
    assert not th.is_alive(), "load_run blocked"
    return box["run"]


def test_a_fifo_or_a_device_is_not_opened_for_reading(tmp_path):
    run = make_run_dir(tmp_path / "run", trials=2)
    (run / "settings.yaml").unlink()
    os.mkfifo(run / "settings.yaml")  # reading it would block until someone writes
    (run / "trials.json").unlink()
    try:
        os.mknod(run / "trials.json", 0o600 | 0o020000, os.makedev(1, 5))  # /dev/zero's device
    except PermissionError:
        (run / "trials.json").symlink_to("/dev/zero")
    r = _load_in_thread(run)
    assert len(r.trials) == 2 and not r.finished
    assert any("settings.yaml: not a regular file" in n for n in r.notes), r.notes
    assert any("trials.json" in n for n in r.notes), r.notes


def test_a_huge_file_is_refused_by_its_cap(tmp_path):
    run = make_run_dir(tmp_path / "run", trials=2)
    with open(run / "trials.json", "r+b") as f:
        f.truncate(65 * 2**20)  # sparse: 65 MB of zeros, over the 64 MB cap
    result = run / "ray" / "run1" / "trial_0000abcd" / "result.json"
    result.unlink()
    result.symlink_to("/dev/zero")  # endless
    r = load_run(run)
    assert any("trials.json: larger than the 64 MB" in n for n in r.notes), r.notes
    assert any("trial_0000abcd/result.json: a symbolic link" in n for n in r.notes)
    assert len(r.trials) == 2


# (file, edit, what the note says) — each was a traceback before
def _trials(f):
    return lambda d: [f(r) for r in d]


def _log(f):
    return lambda s: [f(e) for e in s["searcher"]["trials"].values()]


MALFORMED = [
    ("trials.json", _trials(lambda r: r.update(val_acc="high")), "val_acc is str"),
    ("trials.json", _trials(lambda r: r.update(val_acc=float("nan"))), "val_acc is float nan"),
    ("trials.json", _trials(lambda r: r.update(params=float("inf"))), "params is float inf"),
    ("trials.json", _trials(lambda r: [r.pop(k) for k in ("params", "macs", "epochs", "status")]), "status is missing"),
    ("trials.json", _trials(lambda r: r.update(choices=["a"], epochs={"x": 1})), "choices is a list"),
    ("trials.json", lambda d: d.append("not a row"), "row 3 is str"),
    ("trials.json", lambda d: d.append(None), "row 3 is missing"),
    ("state.json", _log(lambda e: e.pop("candidate")), None),
    ("state.json", _log(lambda e: e.update(result="x", status=5)), "result is str"),
    ("state.json", _log(lambda e: e.update(attempts="run1/trial_x")), "attempts is str"),
    ("state.json", _log(lambda e: e.update(attempts=["../../etc", "/abs"])), "not a path inside"),
    ("state.json", lambda s: s.update(searcher=[1, 2]), "searcher is a list"),
    ("state.json", _log(lambda e: e["result"].update(val_acc={"__float__": "nan"})), "val_acc is float nan"),
    ("state.json", lambda s: s.update(format=2), "is not a search state"),
    ("result.json", None, "val_acc is str"),
    ("settings.yaml", "- a\n- b\n", "not a mapping"),
    ("settings.yaml", "space: [unclosed\n", "not valid YAML"),
    ("settings.yaml", "samples: {a: 1}\nepochs: .nan\nspace: !!binary aGk=\n", None),
    ("settings.yaml", b"\xff\xfe\x00\x01garbage\x00", None),
]


def render_parts(run: Path) -> str:
    """What the page is made of, without the slow PNG encoding: the HTML fragments, and each figure drawn."""
    from archdsl.report import plots
    from archdsl.report.html import leaderboard_html, notes_html, summary_html

    r = load_run(run)
    for _, draw, _, _ in plots.FIGURES.values():
        fig = draw(r)
        if fig is not None:
            plots.close(fig)
    return "<html><body>" + summary_html(r) + notes_html(r) + leaderboard_html(r) + "</body></html>"


def _malform(run: Path, name: str, edit) -> None:
    if name == "result.json":
        for f in (run / "ray").rglob("result.json"):
            f.write_text(f.read_text().replace('"val_acc": ', '"val_acc": "x", "was": '))
    elif name == "settings.yaml":
        (run / name).write_bytes(edit if isinstance(edit, bytes) else edit.encode())
    elif name == "trials.json":  # the state is what a report reads first: without it, the table is read
        _edit_json(run / name, edit)
        (run / "ray" / "state.json").unlink()
    else:
        _edit_json(run / "ray" / name, edit)
        (run / "trials.json").unlink()


@pytest.mark.parametrize("name, edit, note", MALFORMED, ids=[f"{m[0]}-{i}" for i, m in enumerate(MALFORMED)])
def test_malformed_values_show_as_a_dash_with_a_note(tmp_path, name, edit, note):
    run = make_run_dir(tmp_path / "run", trials=2)
    _malform(run, name, edit)
    page = render_parts(run)
    assert_only_report_markup(page)
    if note:
        assert note in page, re.findall(r"<li>.*?</li>", page)


def test_a_page_of_malformed_values_is_written_whole(tmp_path):
    run = make_run_dir(tmp_path / "run", trials=3)
    _malform(run, "result.json", None)
    _malform(run, "state.json", _log(lambda e: e.update(result={"val_acc": float("inf"), "epoch": "3"})))
    (run / "settings.yaml").write_text("samples: [1, 2]\nobjective: 7\n")
    page = _report(run, tmp_path / "r.html")
    assert_only_report_markup(page)
    assert page.count(">—</td>") >= 6 and "samples is a list" not in page  # nested settings are left out
    assert "val_acc is float inf" in page


# --- fuzz: random JSON values anywhere the report reads one ---------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)
_TRIAL_KEYS = ["trial_id", "status", "reason", "val_acc", "epochs", "params", "macs", "choices", "arch", "checkpoint",
               "latency_ms"]
_LOG_KEYS = ["status", "reason", "choices", "attempts", "candidate", "result", "candidate.params", "candidate.macs",
             "candidate.text", "result.val_acc", "result.epoch", "result.latency_ms"]
_RESULT_KEYS = ["epoch", "val_acc", "val_loss", "timestamp", "time_this_iter_s", "training_iteration"]
_SETTINGS_KEYS = ["space", "strategy", "data", "epochs", "samples", "storage", "objective"]
_where = st.one_of(
    st.tuples(st.just("trials.json"), st.sampled_from(_TRIAL_KEYS + ["", "*"])),
    st.tuples(st.just("state.json"), st.sampled_from(_LOG_KEYS + ["", "*", "searcher", "space_text", "settings"])),
    st.tuples(st.just("result.json"), st.sampled_from(_RESULT_KEYS + [""])),
    st.tuples(st.just("settings.yaml"), st.sampled_from(_SETTINGS_KEYS + ["*"])),
)


def _with(d, key: str, value):
    """`d` (a mapping, or {} if a planted value replaced it) with `value` at `key` ("a.b": inside `a`)."""
    d = dict(d) if isinstance(d, dict) else {}
    head, _, rest = key.partition(".")
    d[head] = _with(d.get(head), rest, value) if rest else value
    return d


def _plant(run: Path, file: str, key: str, value) -> None:
    """`value` at `key` of every trial (or row) of `file`; "" replaces a whole row, "*" the whole file."""
    if file == "settings.yaml":
        import yaml

        data = value if key == "*" else _with(yaml.safe_load((run / file).read_text()), key, value)
        (run / file).write_text(yaml.safe_dump(data))
    elif file == "result.json":
        for f in (run / "ray").rglob("result.json"):
            rows = [json.loads(x) for x in f.read_text().splitlines()]
            f.write_text("".join(json.dumps(_with(r, key, value) if key else value) + "\n" for r in rows))
    elif file == "trials.json":
        rows = json.loads((run / file).read_text())
        if key == "*" or not isinstance(rows, list):
            rows = value
        else:
            rows = [_with(r, key, value) if key else value for r in rows]
        (run / file).write_text(json.dumps(rows))
    else:
        state = json.loads((run / "ray" / file).read_text())
        log = (state.get("searcher") or {}).get("trials") if isinstance(state.get("searcher"), dict) else None
        if key == "*":
            state = _with(state, "searcher.trials", value)
        elif key in ("searcher", "space_text", "settings"):
            state[key] = value
        elif isinstance(log, dict):
            for tid in log:
                log[tid] = _with(log[tid], key, value) if key else value
        (run / "ray" / file).write_text(json.dumps(state))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plants=st.lists(st.tuples(_where, _json_values), min_size=1, max_size=4), with_state=st.booleans())
def test_random_values_in_the_run_files_never_break_the_report(plants, with_state):
    with tempfile.TemporaryDirectory() as d:
        run = make_run_dir(Path(d) / "run", trials=3)
        for (file, key), value in plants:
            _plant(run, file, key, value)
        if not with_state:  # then trials.json is what is read
            (run / "ray" / "state.json").unlink()
        try:
            page = render_parts(run)
        except NoSearchYet:  # every source unusable: said in one line
            return
        assert_only_report_markup(page)


def test_an_s3_storage_is_read_when_named_and_only_then(tmp_path, monkeypatch):
    server_mod = pytest.importorskip("moto.server")
    import socket

    import pyarrow.fs as pafs

    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        fs = pafs.S3FileSystem(endpoint_override=f"127.0.0.1:{port}", scheme="http", region="us-east-1",
                               allow_bucket_creation=True)
        fs.create_dir("bucket")
        run = make_run_dir(tmp_path / "run", trials=3, finished=False)
        for f in (run / "ray").rglob("*"):
            if f.is_file():
                with fs.open_output_stream(f"bucket/search/{f.relative_to(run / 'ray').as_posix()}") as o:
                    o.write(f.read_bytes())
        shutil.rmtree(run / "ray")
        settings = run / "settings.yaml"
        settings.write_text(settings.read_text().replace("storage: null", "storage: s3://bucket/search"))
        r = load_run(run)  # not named on the command line: not read
        assert r.trials == [] and any("--storage s3://bucket/search" in n for n in r.notes), r.notes
        r = load_run(run, storage="s3://bucket/search", storage_endpoint=f"http://127.0.0.1:{port}")
        assert len(r.trials) == 3 and all(len(t.epochs) == 3 for t in r.trials) and not r.notes
    finally:
        server.stop()


def test_paths_that_cannot_be_used_are_one_line_errors(tmp_path, capsys):
    run = make_run_dir(tmp_path / "run", trials=2)
    (tmp_path / "file").write_text("x")
    assert main(["report", str(tmp_path / "file")]) == 1
    assert main(["report", str(run), "-o", str(tmp_path / "file" / "r.html")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "is a file, not a directory" in err[0] and "cannot write the report" in err[1], err


def test_links_planted_at_the_reports_outputs_are_replaced_never_written_through(tmp_path, capsys):
    """The page and the PNGs go to RUN_DIR by default: a link planted there (`report.html -> ~/.bashrc`) had the
    report overwrite whatever it pointed at with a page whose text the run's author chose."""
    run = make_run_dir(tmp_path / "run", trials=2)
    victim, other = tmp_path / "victim", tmp_path / "other"
    victim.write_text("precious\n")
    other.write_text("precious too\n")
    (run / "report.html").symlink_to(victim)
    (run / "report_plots").mkdir()
    (run / "report_plots" / "cost.png").symlink_to(other)
    assert main(["report", str(run)]) == 0
    assert victim.read_text() == "precious\n" and other.read_text() == "precious too\n"
    assert not (run / "report.html").is_symlink() and "<!DOCTYPE html>" in (run / "report.html").read_text()
    assert (run / "report_plots" / "cost.png").read_bytes().startswith(b"\x89PNG")
    # a plots directory that is itself a link would lead every PNG into the directory it names
    shutil.rmtree(run / "report_plots")
    (tmp_path / "elsewhere").mkdir()
    (run / "report_plots").symlink_to(tmp_path / "elsewhere")
    capsys.readouterr()
    assert main(["report", str(run)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "report_plots is a symbolic link" in err[0], err
    assert list((tmp_path / "elsewhere").iterdir()) == []
