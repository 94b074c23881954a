"""The grader against the real chapters: it passes what is right and fails what is wrong.

For every solutions/NN_topic.ipynb:
(a) the reference solution passes every exercise, with every float it prints perturbed by a
    relative 2e-5 (the noise of another machine), and with one and with two threads;
(b) the generated exercise notebook, untouched, fails every exercise;
(c) with all WRONG answers of tests/grading_cases/NN_topic.py planted at once, exactly those exercises fail;
(d) with all ALTERNATIVE answers planted at once, every exercise passes and none is flagged;
(e) with the NEAR_MISS answers (one small slip from right) planted, exactly those fail, noise or not.
Answer cells that tamper with grading get zero points; answers that use what an exercise forbids
are flagged for review. Plus the fast checks: the cases name real answer cells, stored references
survive rounding noise, and exercises/ and references.json are fresh.
"""

from __future__ import annotations

import importlib.util
import json
import random
import re
from pathlib import Path

import nbformat
import pytest

from kaibert.course import audit, compare, exercises, grade, notebooks as nbs

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
CASES = ROOT / "tests" / "grading_cases"


def load_cases(solution: Path):
    path = CASES / f"{solution.stem}.py"
    if not path.exists():
        pytest.fail(f"{solution.name} has no grading cases: write {path.relative_to(ROOT)} with WRONG and ALTERNATIVE")
    spec = importlib.util.spec_from_file_location(f"grading_cases_{solution.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WRONG, module.ALTERNATIVE


def near_misses(solution: Path) -> dict:
    path = CASES / f"{solution.stem}.py"
    spec = importlib.util.spec_from_file_location(f"grading_cases_{solution.stem}_near", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, "NEAR_MISS", {})


# Every float a check cell prints, moved by a relative 2e-5 (up or down, at random) before it is
# rounded: what another CPU, BLAS or thread count does to a correct answer.
NOISE_CELL = """import random as _random
import sys as _sys

_check_module = _sys.modules["kaibert.course.check"]
_exact_round, _noise = _check_module._round, _random.Random({seed})
_check_module._round = lambda x: _exact_round(x * (1 + 2e-5 * _noise.choice((-1, 1))))
"""


def grade_with(student: Path, solution: Path, folder: Path, extra: str | None = None):
    """Grade as grade.grade does (against the exercise notebook, in the sandbox), with a cell of
    the test's own run right after the grader's first."""
    reference = nbs.read(ROOT / "exercises" / solution.name)
    graded, origin = grade.build_graded(reference, nbs.read(student))
    if extra:
        cell = nbformat.v4.new_code_cell(extra)
        cell["id"] = "test-extra"
        graded.cells.insert(1, cell)
    records, stopped = grade.run_with_reruns(graded, folder, grade.DEFAULT_TIMEOUT)
    return grade.verdicts(graded, origin, records, stopped)


def noisy(seed: int) -> str:
    return NOISE_CELL.format(seed=seed)


def planted(solution: Path, cases: dict, folder: Path) -> Path:
    """The generated exercise notebook with the answers of ``cases`` planted and the reference
    answers everywhere else."""
    nb = nbs.read(ROOT / "exercises" / solution.name)
    reference = {c.get("id"): c.source for c in nbs.answer_cells(nbs.read(solution))}
    sources = {}
    for cells in cases.values():
        sources.update(cells)
    for cell in nbs.answer_cells(nb):
        cell.source = sources.get(cell.get("id"), reference[cell.get("id")])
    out = folder / solution.name
    nbs.write(nb, out)
    return out


def chapter_params(*marks):
    return [pytest.param(s, id=s.stem[:2], marks=list(marks))
            for s in SOLUTIONS]


@pytest.mark.parametrize("solution", chapter_params())
def test_cases_name_real_answer_cells(solution):
    wrong, alternative = load_cases(solution)
    nb = nbs.read(solution)
    answer_ids = {c.get("id"): nbs.exercise_of(c) for c in nbs.answer_cells(nb)}
    reference = {c.get("id"): c.source.strip() for c in nbs.answer_cells(nb)}
    assert len(wrong) >= min(3, len(nbs.exercises(nb))), "at least 3 WRONG cases per chapter"
    assert len(alternative) >= min(3, len(nbs.exercises(nb))), "at least 3 ALTERNATIVE cases per chapter"
    for kind, cases in (("WRONG", wrong), ("ALTERNATIVE", alternative)):
        for exercise, cells in cases.items():
            assert exercise in nbs.exercises(nb), f"{kind}[{exercise!r}]: no such exercise in {solution.name}"
            for cell_id, source in cells.items():
                assert answer_ids.get(cell_id) == exercise, f"{kind}[{exercise!r}]: {cell_id!r} is not an answer cell of {exercise}"
                assert source.strip() != reference[cell_id], f"{kind}[{exercise!r}]: {cell_id} is the reference answer"


@pytest.mark.slow
@pytest.mark.parametrize("solution", chapter_params())
def test_solution_passes_every_exercise_with_float_noise(solution, tmp_path):
    results, errors = grade_with(solution, solution, tmp_path, noisy(seed=int(solution.name[:2])))
    assert errors == []
    assert [(r.exercise, r.message) for r in results if not r.passed] == []
    assert [(r.exercise, r.flag_message) for r in results if r.flag] == []


@pytest.mark.slow
@pytest.mark.parametrize("threads", [1, 2])
def test_the_grade_holds_with_one_and_two_threads(threads, tmp_path, monkeypatch):
    """Chapter 07 runs a BERT with an MLM head: its logits were the first to flip a rounded digit."""
    solution = next(s for s in SOLUTIONS if s.name.startswith("07_"))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, str(threads))
    threads_used = f"import torch as _torch\nassert _torch.get_num_threads() == {threads}, _torch.get_num_threads()"
    results, errors = grade_with(solution, solution, tmp_path, threads_used)
    assert errors == []
    assert [(r.exercise, r.message) for r in results if not r.passed] == []


@pytest.mark.slow
@pytest.mark.parametrize("solution", chapter_params())
def test_untouched_exercise_notebook_fails_every_exercise(solution):
    result = grade.grade(ROOT / "exercises" / solution.name, solution)
    assert [r.exercise for r in result.exercises if r.passed] == []
    kinds = {nbs.exercise_of(c): nbs.info(c).get("kind") for c in nbs.answer_cells(nbs.read(solution))}
    # a debug exercise starts from code with a bug in it: untouched, it runs and is wrong
    assert all("not answered yet" in r.message or kinds[r.exercise] == "debug" for r in result.exercises), \
        [r.message for r in result.exercises]


@pytest.mark.slow
@pytest.mark.parametrize("solution", chapter_params())
def test_wrong_answers_fail_exactly_their_exercises(solution, tmp_path):
    wrong, _ = load_cases(solution)
    results, errors = grade_with(planted(solution, wrong, tmp_path), solution, tmp_path, noisy(seed=3))
    failing = sorted(r.exercise for r in results if not r.passed)
    assert failing == sorted(wrong), {r.exercise: r.message for r in results}
    assert all(r.message.startswith(("wrong result: ", "answer cell ", "check cell ")) for r in results if not r.passed)
    assert errors == []


@pytest.mark.slow
@pytest.mark.parametrize("solution", chapter_params())
def test_alternative_answers_pass(solution, tmp_path):
    _, alternative = load_cases(solution)
    results, errors = grade_with(planted(solution, alternative, tmp_path), solution, tmp_path, noisy(seed=2))
    assert errors == []
    assert {r.exercise: r.message for r in results if not r.passed} == {}
    assert {r.exercise: r.flag_message for r in results if r.flag} == {}


NEAR_MISS_CHAPTERS = [s for s in SOLUTIONS if (CASES / f"{s.stem}.py").exists() and near_misses(s)]


@pytest.mark.slow
@pytest.mark.parametrize("solution", [pytest.param(s, id=s.stem[:2]) for s in NEAR_MISS_CHAPTERS])
def test_near_misses_stay_wrong(solution, tmp_path):
    """Unbiased LayerNorm variance, tanh-GELU, L2 decay in AdamW, scores over d: the tolerance fails them."""
    cases = near_misses(solution)
    results, errors = grade_with(planted(solution, cases, tmp_path), solution, tmp_path, noisy(seed=4))
    failing = sorted(r.exercise for r in results if not r.passed)
    assert failing == sorted(cases), {r.exercise: r.message for r in results}
    assert all(r.message.startswith("wrong result: ") for r in results if not r.passed)
    assert errors == []


# --- rounding noise on the stored references (no kernel) ---------------------------------------


def _jitter(value, rng):
    """A value another machine could print for the same correct answer."""
    if isinstance(value, bool) or not isinstance(value, (float, list, tuple, dict)):
        return value
    if isinstance(value, float):
        true = value + rng.uniform(-5e-5, 5e-5)  # anything that rounds to the stored value
        moved = round(true * (1 + 2e-5 * rng.choice((-1, 1))), 4)
        return 0.0 if moved == 0 else moved
    if isinstance(value, dict):
        return {k: _jitter(v, rng) for k, v in value.items()}
    items = [_jitter(v, rng) for v in value]
    return tuple(items) if isinstance(value, tuple) else items


def test_every_stored_reference_survives_rounding_noise():
    refs = json.loads((ROOT / "kaibert" / "course" / "references.json").read_text())
    for seed in range(20):
        rng = random.Random(seed)
        for exercise, lines in refs.items():
            moved = []
            for line in lines:
                ex, name, text = compare.split_line(line)
                value = compare.parse(text)
                moved.append(f"[{ex}] {name}: {_jitter(value, rng) if not isinstance(value, str) else text}")
            assert compare.differences(moved, lines) == [], (seed, exercise)


# --- answers that tamper with grading, and answers that take a shortcut -------------------------

FAKE_CHECK = """import json
from importlib import resources
REFS = json.loads(resources.files("kaibert.course").joinpath("references.json").read_text())
def check(exercise, **values):
    print("\\n".join(REFS[exercise]))
def attention_scores(q, k):
    return q @ k.transpose(-2, -1)
"""
FAKE_PRINT = """import builtins
_print = builtins.print
def masked_softmax(scores, attention_mask):
    return scores.softmax(dim=-1)
builtins.print = lambda *a, **k: _print(*(str(x).replace("0.7973", "0.0") for x in a), **k)
"""
FAKE_STDOUT = """import sys
class Quiet:
    def write(self, s):
        return len(s)
    def flush(self):
        pass
sys.stdout = Quiet()
def attention(q, k, v, mask=None):
    w = (q @ k.transpose(-2, -1)).softmax(-1)
    return w @ v, w
"""
PATCH_COURSE = """import kaibert.course
from kaibert.course import check as real_check
kaibert.course.check.__defaults__ = None
setattr(kaibert.course, "summarize", lambda *a, **k: [])
def causal_mask(T, dtype=torch.float32):
    return torch.zeros(1, 1, T, T, dtype=dtype)
"""
READ_NOTEBOOK = """import glob
SOURCE = open(glob.glob("*.ipynb")[0]).read()
def causal_mask(T, dtype=torch.float32):
    return torch.zeros(1, 1, T, T, dtype=dtype)
"""
TAMPERED_03 = {  # exercise -> (answer cells, words the zero-points message must contain)
    "03.1": ({"ex03-1-answer": FAKE_CHECK}, ["rebinds 'check'", "references.json"]),
    "03.2": ({"ex03-2-answer": FAKE_PRINT}, ["imports builtins", "patches builtins.print"]),
    "03.3": ({"ex03-3-answer": FAKE_STDOUT}, ["patches sys.stdout"]),
    "03.4": ({"ex03-4-answer": PATCH_COURSE}, ["patches kaibert.course.check", "with setattr()"]),
}
SHORTCUTS = {  # chapter -> exercise -> (answer cells, what the review flag names)
    "02": {"02.1": ({"ex02-1-answer": "def layer_norm(x, weight, bias, eps=1e-12):\n"
                                      "    return F.layer_norm(x, x.shape[-1:], weight, bias, eps)\n"},
                    "torch.nn.functional.layer_norm")},
    "03": {"03.3": ({"ex03-3-answer": "from kaibert.attention import scaled_dot_product_attention\n\n"
                                      "def attention(q, k, v, mask=None):\n"
                                      "    return scaled_dot_product_attention(q, k, v, mask)\n"},
                    "kaibert.attention.scaled_dot_product_attention")},
    "05": {"05.1": ({"ex05-1-answer": "def layer_norm_backward(z, gamma, grad_out, eps=1e-12):\n"
                                      "    with torch.enable_grad():\n"
                                      "        leaf = z.clone().requires_grad_(True)\n"
                                      "        y = gamma * F.layer_norm(leaf, z.shape[-1:], eps=eps)\n"
                                      "        (grad,) = torch.autograd.grad(y, leaf, grad_out)\n"
                                      "    return grad\n"},
                    "torch.autograd.grad")},
}


def solution_named(prefix: str) -> Path:
    return next(s for s in SOLUTIONS if s.name.startswith(prefix + "_"))


def graded_flags(solution: Path, cases: dict, folder: Path, strict: bool = False) -> dict:
    graded, _ = grade.build_graded(nbs.read(solution), nbs.read(planted(solution, cases, folder)))
    return grade.flags(graded, strict)


def test_tampering_answers_get_zero_points_and_say_why(tmp_path):
    flags = graded_flags(solution_named("03"), {ex: cells for ex, (cells, _) in TAMPERED_03.items()}, tmp_path)
    for ex, (_, words) in TAMPERED_03.items():
        level, message = flags[ex]
        assert level == audit.ZERO and message.startswith("no points: the answer "), (ex, message)
        assert all(w in message for w in words), (ex, message)


def test_the_stored_references_and_notebook_files_are_off_limits(tmp_path):
    flags = graded_flags(solution_named("03"), {"03.4": {"ex03-4-answer": READ_NOTEBOOK}}, tmp_path)
    assert flags["03.4"][0] == audit.ZERO
    assert "lists files with glob()" in flags["03.4"][1] and ".ipynb" in flags["03.4"][1]


@pytest.mark.parametrize("chapter", sorted(SHORTCUTS))
def test_shortcuts_are_flagged_for_review_and_zero_when_strict(chapter, tmp_path):
    cases = {ex: cells for ex, (cells, _) in SHORTCUTS[chapter].items()}
    flags = graded_flags(solution_named(chapter), cases, tmp_path)
    assert sorted(flags) == sorted(cases)
    for ex, (_, name) in SHORTCUTS[chapter].items():
        assert flags[ex][0] == audit.REVIEW and name in flags[ex][1], flags[ex]
    strict = graded_flags(solution_named(chapter), cases, tmp_path, strict=True)
    assert {ex: level for ex, (level, _) in strict.items()} == {ex: audit.ZERO for ex in cases}


@pytest.mark.parametrize("solution", chapter_params())
def test_honest_answers_are_never_flagged(solution, tmp_path):
    """The reference answers and every ALTERNATIVE (math, torch.nn.functional, helper functions)."""
    wrong, alternative = load_cases(solution)
    assert graded_flags(solution, {}, tmp_path) == {}
    assert graded_flags(solution, alternative, tmp_path) == {}
    assert graded_flags(solution, wrong, tmp_path) == {}


@pytest.mark.slow
def test_tampering_fakes_nothing_when_it_runs(tmp_path):
    solution = solution_named("03")
    student = planted(solution, {ex: cells for ex, (cells, _) in TAMPERED_03.items()}, tmp_path)
    result = grade.grade(student, solution)
    tampered = [(r.exercise, r.passed, r.flag, r.earned) for r in result.exercises if r.exercise in TAMPERED_03]
    assert tampered == [(ex, False, audit.ZERO, 0) for ex in TAMPERED_03]


def test_generated_files_are_fresh_and_notebooks_clean():
    """What `python -m kaibert.course.exercises --check` checks in CI."""
    assert exercises.stale(ROOT) == []


def test_the_named_near_misses_are_planted():
    """The three near misses the grading page names are among the cases."""
    found = {ex: " ".join(cells.values()) for s in NEAR_MISS_CHAPTERS for ex, cells in near_misses(s).items()}
    text = " ".join(found.values())
    assert ".var(" in text or "unbiased" in text           # LayerNorm with the unbiased variance
    assert "1.0 - p * random_share" in text                  # a share not conditioned on what the model sees
    assert "grad + weight_decay * param" in text             # coupled L2 decay in AdamW
    assert re.search(r"/ (q\.size\(-1\)|d)\b", text)         # scores over d, not sqrt(d)


def test_every_exercise_says_its_kind_difficulty_and_minutes():
    """Exercises that make students think: every chapter mixes kinds; the course has enough of each."""
    kinds = {}
    for solution in SOLUTIONS:
        nb = nbs.read(solution)
        mine = {}
        for cell in nbs.answer_cells(nb):
            meta = nbs.info(cell)
            assert meta.get("kind") in nbs.KINDS, f"{solution.name} {cell.get('id')}: kind {meta.get('kind')!r}"
            assert meta.get("difficulty") in (1, 2, 3), f"{solution.name} {cell.get('id')}: difficulty"
            assert isinstance(meta.get("minutes"), int) and meta["minutes"] > 0, f"{solution.name} {cell.get('id')}"
            mine[nbs.exercise_of(cell)] = meta["kind"]
        assert len(set(mine.values())) >= 3, f"{solution.name}: exercises of only {set(mine.values())}"
        kinds.update(mine)
    counts = {k: list(kinds.values()).count(k) for k in nbs.KINDS}
    assert len(kinds) >= 50 and counts["debug"] >= 10 and counts["transfer"] >= 10, counts
