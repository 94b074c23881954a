"""A hostile class of chapter 03: every attack of issue 20 is contained by the sandbox.

One class run (the shared fixture ``graded_class``) grades an honest student, the same notebook
saved without cell ids or metadata, and five attackers, each of whose answer cells also carries
the reference answer (so an attack that did nothing visible still leaves a notebook that works):

- ``thief`` finds the solutions folder through ``kaibert.__file__`` and runs the reference answer;
- ``killer`` signals everything it can see: its process group, its parent, every pid in /proc;
- ``vandal`` overwrites every notebook of the submissions folder (whose path it knows);
- ``intruder`` writes into the home folder and next to the submissions, connects to a port that
  listens on this machine, and leaves processes running;
- ``hog`` asks for 8 GiB, starts hundreds of processes, and prints megabytes.

Each attack prints what it managed; ``keep`` keeps the notebooks as they ran, so the tests read
that evidence as well as checking the machine from outside. The attacks are written the way
the issue's were: names built at run time, so the audit (which reads the syntax tree) flags none.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from filelock import FileLock

from kaibert.course import grade, gradebook, notebooks as nbs, sandbox

ROOT = Path(__file__).resolve().parents[1]
EXERCISE = ROOT / "exercises" / "03_attention.ipynb"
SOLUTION = ROOT / "solutions" / "03_attention.ipynb"
TOKEN = f"kaibert-attack-{os.getpid()}"

pytestmark = pytest.mark.slow

THIEF = '''import importlib, json as _j, pathlib
_pkg = importlib.import_module("kai" + "bert")
_root = pathlib.Path(getattr(_pkg, "__fi" + "le__")).resolve().parents[1]
_sol = _root / ("solu" + "tions")
_found = sorted(getattr(_sol, "gl" + "ob")("03_*")) if _sol.is_dir() else []
print("thief: found", len(_found), "reference notebooks under", _root)
_cells = _j.loads(_found[0].read_text())["cells"]
_key = next("".join(c["source"]) for c in _cells if c.get("id") == "ex03-1-answer")
exec(_key.replace("# BEGIN SOLUTION", "").replace("# END SOLUTION", ""))
'''

KILLER = '''import os, signal
_me = os.getpid()
_init = open("/proc/1/cmdline", "rb").read()
# The attack runs only where pid 1 is bubblewrap's: should the sandbox ever fail to start,
# this test must not kill the machine it runs on. Inside the sandbox, it runs in full.
if b"bwrap" in _init:
    _pids = [int(p) for p in getattr(os, "list" + "dir")("/proc") if p.isdigit() and int(p) != _me]
    _hit = 0
    for _pid in [os.getppid(), *_pids]:  # the parent first: the grading process, it hopes
        try:
            os.kill(_pid, signal.SIGKILL)
            _hit += 1
        except OSError:
            pass
    try:
        os.kill(-1, signal.SIGKILL)  # every process it may signal, but itself
    except OSError:
        pass
    print("killer: saw", len(_pids) + 1, "other processes, signalled", _hit, "of them, then all with kill(-1)")
'''

VANDAL = '''import os, pathlib
_seen, _hits, _refused = set(), 0, 0
for _top in ({subs!r}, os.getcwd(), os.path.expanduser("~"), "/tmp"):
    for _dir, _dirs, _files in getattr(os, "wa" + "lk")(_top):
        for _f in _files:
            _p = pathlib.Path(_dir, _f).resolve()
            if _f.endswith("." + "ipy" + "nb") and _p not in _seen:
                _seen.add(_p)
                try:
                    _p.write_text("{{}}")
                    _hits += 1
                except OSError:
                    _refused += 1
print("vandal: overwrote", _hits, "notebooks; refused", _refused, "; saw the submissions:", os.path.exists({subs!r}))
'''

INTRUDER = '''import os, socket, subprocess, sys, pathlib
_report = []
for _target in ({home!r}, {outside!r}):
    try:
        pathlib.Path(_target).write_text("was here")
        _report.append("wrote " + _target)
    except OSError as _e:
        _report.append(f"write refused: {{type(_e).__name__}}")
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).sendall(b"hello")
    _report.append("connected")
except OSError as _e:
    _report.append(f"no connection: {{type(_e).__name__}}")
_bg = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{token}"], start_new_session=True)
if os.fork() == 0:  # a daemon of the classic kind: fork, new session, fork again
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", "{token}"])
    os._exit(0)
_report.append(f"background started: {{_bg.pid}}")
print("intruder:", "; ".join(_report))
'''

HOG = '''import subprocess
_report = []
try:
    _big = bytearray(8 * 2**30)
    _report.append("got 8 GiB")
    del _big
except MemoryError:
    _report.append("memory refused")
_kids = []
try:
    for _ in range(600):
        _kids.append(subprocess.Popen(["sleep", "30"]))
    _report.append("started 600 processes")
except OSError as _e:
    _report.append(f"processes refused after {len(_kids)}: {type(_e).__name__}")
for _k in _kids:
    _k.kill()
    _k.wait()
print("hog:", "; ".join(_report))
'''
FLOOD = 'print("x" * 4_000_000)\n'


def reference_answers() -> dict[str, str]:
    return {c.get("id"): c.source for c in nbs.answer_cells(nbs.read(SOLUTION))}


def planted(path: Path, extra: dict[str, str], instead: dict[str, str] | None = None) -> Path:
    """The exercise notebook with the reference answers, attack code after (or instead of) some."""
    nb = nbs.read(EXERCISE)
    answers = {**reference_answers(), **(instead or {})}
    for cell in nbs.answer_cells(nb):
        cid = cell.get("id")
        cell.source = answers[cid] + ("\n" + extra[cid] if cid in extra else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    nbs.write(nb, path)
    return path


def without_ids_and_metadata(path: Path) -> Path:
    """What an editor that drops cell ids and metadata saves (nbformat 4.4, bare cells)."""
    raw = json.loads(nbs.dumps(nbs.read(planted(path, {}))))
    raw["nbformat_minor"] = 4
    raw["metadata"] = {}
    for cell in raw["cells"]:
        cell.pop("id", None)
        cell["metadata"] = {}
    path.write_text(json.dumps(raw, indent=1))
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def marked_processes() -> list[str]:
    """Processes on this machine whose command line carries this run's attack token."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if TOKEN.encode() in cmdline and b"import time" in cmdline:
            found.append(pid)
    return found


def left_running(wait: float = 5.0) -> list[str]:
    """The attack's processes still running a few seconds after grading ended."""
    deadline = time.monotonic() + wait
    while marked_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    return marked_processes()


def grade_hostile_class(root: Path) -> dict:
    """Grade the hostile class once, watching the machine from outside; JSON-ready results."""
    subs = root / "submissions"
    home = Path(os.path.expanduser("~")) / f".{TOKEN}-home"
    outside = root / f"{TOKEN}-outside"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted: list = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                accepted.append(listener.accept())
            except OSError:
                continue

    server = threading.Thread(target=accept, daemon=True)
    server.start()

    planted(subs / "honest" / "03_attention.ipynb", {})
    without_ids_and_metadata(subs / "noids" / "03_attention.ipynb")
    planted(subs / "thief" / "03_attention.ipynb", {}, instead={"ex03-1-answer": THIEF})
    planted(subs / "killer" / "03_attention.ipynb", {"ex03-2-answer": KILLER})
    planted(subs / "vandal" / "03_attention.ipynb", {"ex03-3-answer": VANDAL.format(subs=str(subs))})
    planted(subs / "intruder" / "03_attention.ipynb", {"ex03-4-answer": INTRUDER.format(
        home=str(home), outside=str(outside), port=port, token=TOKEN)})
    planted(subs / "hog" / "03_attention.ipynb", {"ex03-5-answer": HOG, "ex03-1-answer": FLOOD})
    before = {str(p): sha(p) for p in subs.rglob("*.ipynb")}
    keep = root / "ran"
    try:
        rows = gradebook.grade_class(subs, ["03"], ROOT / "exercises", timeout=60, jobs=2, log=lambda line: None,
                                     keep=keep)
    finally:
        stop.set()
        server.join(timeout=5)
        listener.close()
    found = {
        "rows": [dataclasses.asdict(r) for r in rows], "subs": str(subs), "before": before, "keep": str(keep),
        "home_written": home.exists(), "outside_written": outside.exists(), "accepted": len(accepted),
        "processes": left_running(),
    }
    home.unlink(missing_ok=True)
    for pid in marked_processes():  # only if the sandbox failed: never leave them on the machine
        os.kill(int(pid), 9)
    return found


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """The class, graded once per test run even when pytest-xdist runs these tests on two workers."""
    problem = sandbox.problem()
    if problem:
        pytest.fail(f"the sandbox tests need bubblewrap: {problem}")
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        found = json.loads(json.dumps(grade_hostile_class(tmp_path_factory.mktemp("hostile-class"))))
    else:
        shared = tmp_path_factory.getbasetemp().parent  # one folder for all the workers of this run
        results = shared / "hostile-class.json"
        with FileLock(str(results) + ".lock"):
            if not results.exists():
                root = shared / "hostile-class"
                root.mkdir(exist_ok=True)
                results.write_text(json.dumps(grade_hostile_class(root)))
        found = json.loads(results.read_text())
    found["rows"] = [gradebook.Row(**r) for r in found["rows"]]
    found["keep"] = Path(found["keep"])
    found["subs"] = Path(found["subs"])
    return found


def rows_of(graded_class, student) -> dict:
    return {r.exercise: r for r in graded_class["rows"] if r.student == student}


def printed(graded_class, student: str, word: str) -> str:
    """What the attack printed (the notebook as it ran, kept by the grader)."""
    text = []
    for path in sorted((graded_class["keep"] / student).rglob("*.ipynb")):
        for cell in nbs.read(path).cells:
            for out in cell.get("outputs", []):
                text.append(out.get("text", ""))
    lines = [line for line in "".join(text).splitlines() if line.startswith(word + ":")]
    assert lines, f"{student}'s attack printed nothing: did it run?"
    return lines[0]


def test_an_honest_student_gets_full_marks_in_the_sandbox(graded_class):
    honest = rows_of(graded_class, "honest")
    assert [(ex, r.points, r.max_points, r.message) for ex, r in honest.items()] == [
        ("03.1", 1, 1, ""), ("03.2", 2, 2, ""), ("03.3", 2, 2, ""), ("03.4", 1, 1, ""), ("03.5", 2, 2, "")]
    assert {r.sandbox for r in graded_class["rows"]} == {"bwrap"}


def test_a_notebook_without_ids_or_metadata_is_graded_by_position(graded_class):
    assert sum(r.points for r in rows_of(graded_class, "noids").values()) == 8


def test_the_answer_key_is_out_of_reach(graded_class):
    thief = rows_of(graded_class, "thief")
    assert not thief["03.1"].passed and thief["03.1"].points == 0
    assert "IndexError" in thief["03.1"].message  # found no reference notebook to read
    assert thief["03.1"].flag == ""  # the audit saw nothing: the sandbox is what stopped it
    assert printed(graded_class, "thief", "thief").startswith("thief: found 0 reference notebooks")
    assert sum(r.points for r in thief.values()) == 7


def test_without_the_sandbox_the_same_thief_gets_the_points(tmp_path):
    """The attack is real: without a sandbox it finds the key and passes (what the sandbox stops)."""
    student = planted(tmp_path / "03_attention.ipynb", {}, instead={"ex03-1-answer": THIEF})
    result = grade.grade(student, EXERCISE, sandbox="none")
    by_ex = {r.exercise: r for r in result.exercises}
    assert by_ex["03.1"].passed and by_ex["03.1"].flag == "" and result.score == 8
    assert result.sandbox == "none"


def test_killing_processes_reaches_nothing_outside(graded_class):
    line = printed(graded_class, "killer", "killer")
    assert "then all with kill(-1)" in line
    # the class run went on: every other student has a full set of graded rows
    for student in ("honest", "noids", "thief", "vandal", "intruder", "hog"):
        rows = rows_of(graded_class, student)
        assert len(rows) == 5 and {r.status for r in rows.values()} == {"graded"}, student
    assert sum(r.points for r in rows_of(graded_class, "killer").values()) == 8


def test_other_submissions_are_out_of_reach(graded_class):
    line = printed(graded_class, "vandal", "vandal")
    assert line.endswith("saw the submissions: False")
    # at most its own copy in its scratch folder was within reach; every submission is unchanged
    after = {str(p): sha(p) for p in graded_class["subs"].rglob("*.ipynb")}
    assert after == graded_class["before"]


def test_nothing_is_written_outside_no_connection_and_no_process_left(graded_class):
    line = printed(graded_class, "intruder", "intruder")
    assert "no connection" in line and "background started" in line
    assert not graded_class["home_written"] and not graded_class["outside_written"]
    assert graded_class["accepted"] == 0
    assert graded_class["processes"] == []  # the background processes ended with the sandbox
    assert sum(r.points for r in rows_of(graded_class, "intruder").values()) == 8


def test_memory_processes_and_output_are_limited(graded_class):
    line = printed(graded_class, "hog", "hog")
    assert "memory refused" in line
    refused = line.split("processes refused after ")[1]
    assert int(refused.split(":")[0]) < sandbox.Limits().processes
    hog = rows_of(graded_class, "hog")
    assert not hog["03.1"].passed and "limit on output" in hog["03.1"].message
    assert hog["03.5"].passed  # its answer still ran, after the refused attempts


def test_grading_a_class_stops_at_once_when_no_sandbox_can_start(tmp_path, monkeypatch, capsys):
    subs = tmp_path / "subs"
    planted(subs / "honest" / "03_attention.ipynb", {})
    monkeypatch.setattr(sandbox, "problem", lambda: "bubblewrap (bwrap) is not installed: install bubblewrap")
    assert gradebook.main([str(subs), "--out", str(tmp_path / "gb.csv"), "--chapters", "03"]) == 2
    assert re.search(r"nothing was graded: bubblewrap .* not installed", capsys.readouterr().err)
    assert not (tmp_path / "gb.csv").exists() and not (tmp_path / "gb_journal.jsonl").exists()


def test_a_course_installed_under_tmp_is_still_seen_inside(tmp_path, monkeypatch):
    """The sandbox mounts a fresh /tmp; an environment that lives under /tmp (a clone in /tmp, as
    CI machines often make) must still be visible, read-only, on top of it."""
    problem = sandbox.problem()
    if problem:
        pytest.fail(f"the sandbox tests need bubblewrap: {problem}")
    assert str(tmp_path).startswith("/tmp/"), "pytest's tmp_path is expected under /tmp here"
    venv = tmp_path / "course" / ".venv"
    venv.mkdir(parents=True)
    (venv / "marker.txt").write_text("seen\n")
    real_paths = sandbox._python_paths
    monkeypatch.setattr(sandbox, "_python_paths", lambda: [*real_paths(), venv])
    scratch = tmp_path / "scratch"
    sandbox.prepare_scratch(scratch, sandbox.new_uid())
    cmd = sandbox.wrap(["sh", "-c", f"cat {venv}/marker.txt; touch {venv}/written 2>/dev/null || echo read-only"],
                       scratch, sandbox.Limits(), sandbox.new_uid())
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["seen", "read-only"], done.stdout + done.stderr
    assert not (venv / "written").exists()


def test_packages_linked_from_elsewhere_are_seen_but_never_the_course(tmp_path, monkeypatch):
    """An environment whose .pth file adds a folder of links to packages installed elsewhere (as a
    preinstalled-packages setup does) imports them in the sandbox too; a .pth that names the course
    repository (an editable install) still shows only the kaibert folder, never solutions/."""
    problem = sandbox.problem()
    if problem:
        pytest.fail(f"the sandbox tests need bubblewrap: {problem}")
    elsewhere = tmp_path / "elsewhere" / "pkg"
    elsewhere.mkdir(parents=True)
    (elsewhere / "marker.txt").write_text("linked\n")
    linked = tmp_path / "preinstalled"
    linked.mkdir()
    (linked / "pkg").symlink_to(elsewhere)
    fake_site = tmp_path / "site-packages"
    fake_site.mkdir()
    (fake_site / "preinstalled.pth").write_text(f"{linked}\n")
    (fake_site / "__editable__.kaibert.pth").write_text(f"{ROOT}\n")
    monkeypatch.setattr("site.getsitepackages", lambda: [str(fake_site)])
    assert (ROOT / "solutions").is_dir()
    scratch = tmp_path / "scratch"
    uid = sandbox.new_uid()
    sandbox.prepare_scratch(scratch, uid)
    script = (f"cat {linked}/pkg/marker.txt; ls {ROOT}/solutions >/dev/null 2>&1 && echo solutions-seen; "
              f"test -f {ROOT}/kaibert/__init__.py && echo kaibert-seen")
    done = subprocess.run(sandbox.wrap(["sh", "-c", script], scratch, sandbox.Limits(), uid),
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["linked", "kaibert-seen"], done.stdout + done.stderr
