"""Read every answer cell before it runs, and say which ones reach for the grading itself.

The sandbox (``kaibert.course.sandbox``) keeps student code away from the answer key, the other
submissions and the machine; inside it, the code can still try to fake its own check. So the
audit reads each answer cell's syntax tree (never runs it) and reports, per exercise:

- ``zero``: the cell rebinds or patches what grading relies on (``check``, ``print``,
  ``builtins``, ``sys.stdout``/``sys.stderr``/``sys.modules``, attributes of ``kaibert.course``),
  or reads the stored references (``references.json``, a notebook file, the reference helpers).
  The exercise gets zero points and the message says why.
- ``review``: the cell uses what the exercise asks the student to write: the exercised component
  from ``kaibert`` itself, or a ready-made function that the exercise's text forbids. Each
  answer cell's metadata names those (``"forbids": ["torch.nn.functional.gelu", ...]``). The
  points stand unless the instructor grades with ``--strict``.

Honest answers are never flagged: importing ``math``, ``torch.nn.functional`` or a helper of
your own, or defining a helper function, is fine.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

ZERO = "zero"
REVIEW = "review"

# Names the check cells rely on: rebinding any of them in an answer cell is tampering.
GRADING_NAMES = {"check", "print", "summarize", "feedback", "__builtins__", "__import__"}
# Modules whose attributes an answer must never set.
PATCH_ROOTS = ("sys", "builtins", "kaibert.course", "IPython", "ipykernel")
# What reads the stored references or lists files to find them.
REFERENCE_HELPERS = {"_references", "REFERENCES_FILE", "collect_references", "summary_lines",
                     "refresh_check_outputs", "expected_files"}
REFERENCE_STRINGS = ("references.json", ".ipynb")
LISTING_CALLS = {"listdir", "scandir", "iterdir", "glob", "rglob", "iglob", "walk"}
REDIRECTS = {"redirect_stdout", "redirect_stderr"}
READER_MODULES = ("nbformat", "nbclient", "nbval", "kaibert.course.grade", "kaibert.course.gradebook",
                  "kaibert.course.exercises", "kaibert.course.notebooks", "kaibert.course.kernel",
                  "kaibert.course.sandbox",
                  "kaibert.course.compare", "kaibert.course.audit", "ctypes", "gc")


@dataclass(frozen=True)
class Finding:
    level: str    # ZERO or REVIEW
    message: str  # what the cell does, in words


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a Name/Attribute chain; None for anything else (a call, a subscript)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def aliases(sources: list[str]) -> dict[str, str]:
    """Local name -> the module or object it was imported as, from ``import`` lines of cells."""
    found: dict[str, str] = {}
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        _collect_aliases(tree, found)
    return found


def _collect_aliases(tree: ast.AST, found: dict[str, str]) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    found[a.asname] = a.name
                else:
                    found[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                found[a.asname or a.name] = f"{node.module}.{a.name}"


def resolve(name: str, table: dict[str, str]) -> str:
    """The full dotted name of ``F.gelu`` given ``import torch.nn.functional as F``."""
    head, _, rest = name.partition(".")
    if head in table:
        return table[head] + (f".{rest}" if rest else "")
    return name


def _under(name: str, roots) -> str | None:
    for root in roots:
        if name == root or name.startswith(root + "."):
            return root
    return None


def _same_object(a: str, b: str) -> bool:
    """Whether two dotted names are one object (``kaibert.BertModel`` is ``kaibert.model.BertModel``)."""
    objs = []
    for name in (a, b):
        obj = _lookup(name)
        if obj is None:
            return False
        objs.append(obj)
    return objs[0] is objs[1]


_LOOKUPS: dict[str, object] = {}


def _lookup(name: str):
    """Import ``name`` (only under torch or kaibert) and return the object, or None."""
    if name in _LOOKUPS:
        return _LOOKUPS[name]
    obj = None
    if name.split(".")[0] in ("torch", "kaibert"):
        import importlib

        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except Exception:
                continue
            try:
                for attr in parts[cut:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                obj = None
            break
    _LOOKUPS[name] = obj
    return obj


def _forbidden(name: str, forbids: list[str]) -> str | None:
    for f in forbids:
        if name == f or name.startswith(f + "."):
            return f
    for f in forbids:
        if name.split(".")[0] == f.split(".")[0] and name.rsplit(".", 1)[-1] == f.rsplit(".", 1)[-1] \
                and _same_object(name, f):
            return f
    return None


def audit_source(source: str, exercise: str, forbids: list[str] | None = None,
                 context: dict[str, str] | None = None) -> list[Finding]:
    """What one answer cell does that grading must know about (empty for an honest answer).

    ``context`` holds the import aliases of the notebook's other cells (``F`` ->
    ``torch.nn.functional``), so that ``F.gelu`` is recognised.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # it will fail when it runs; nothing to audit
    table = dict(context or {})
    _collect_aliases(tree, table)
    findings: list[Finding] = []

    def zero(message: str) -> None:
        if all(f.message != message for f in findings):
            findings.append(Finding(ZERO, message))

    def review(message: str) -> None:
        if all(f.message != message for f in findings):
            findings.append(Finding(REVIEW, message))

    for node in ast.walk(tree):
        # 1. rebinding a name the check cells use
        bound: list[str] = []
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.append(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.append(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.extend(node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.extend((a.asname or a.name).split(".")[0] for a in node.names)
        for name in bound:
            if name in GRADING_NAMES and not (name == "check" and isinstance(node, ast.ImportFrom)
                                              and node.module in ("kaibert.course", "kaibert.course.check")
                                              and not any(a.asname for a in node.names)):
                zero(f"rebinds '{name}', which the check cells rely on")

        # 2. setting or deleting attributes of sys, builtins or kaibert.course
        targets: list[ast.AST] = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, (ast.Attribute, ast.Subscript)) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                    inner = sub.value
                    dotted = _dotted(inner) if isinstance(sub, ast.Subscript) else _dotted(sub)
                    if dotted is None:
                        continue
                    full = resolve(dotted, table)
                    root = _under(full, PATCH_ROOTS) or (
                        "kaibert.course" if dotted.split(".")[0] in ("check", "summarize") else None)
                    if root:
                        zero(f"patches {full} (grading relies on {root})")
        if isinstance(node, ast.Call):
            func = _dotted(node.func)
            full = resolve(func, table) if func else ""
            last = full.rsplit(".", 1)[-1]
            if last in ("setattr", "delattr") and node.args:
                obj = _dotted(node.args[0])
                obj_full = resolve(obj, table) if obj else ""
                if obj and (_under(obj_full, PATCH_ROOTS) or obj.split(".")[0] in GRADING_NAMES):
                    zero(f"patches {obj_full} with {last}() (grading relies on it)")
            if last in REDIRECTS:
                zero(f"redirects the output with {last}() (the check cells' output must reach the grader)")
            if last in LISTING_CALLS:
                zero(f"lists files with {last}() (answers must not look for the stored references)")
            if last in ("import_module", "__import__", "reload") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    if _under(arg.value, ("builtins",) + READER_MODULES):
                        zero(f"imports {arg.value} (grading relies on it)")
                if last == "reload":
                    zero("reloads a module with reload() (grading relies on the modules as loaded)")

        # 3. the builtins module, the references and the grading's own modules
        if isinstance(node, ast.Name) and node.id == "__builtins__":
            zero("uses __builtins__ (grading relies on the built-in functions)")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.module:
                modules += [f"{node.module}.{a.name}" for a in node.names]
            for module in modules:
                if module == "builtins" or module.startswith("builtins."):
                    zero("imports builtins (grading relies on the built-in functions)")
                hit = _under(module, READER_MODULES)
                if hit:
                    zero(f"imports {hit} (answers must not reach the grading or the stored references)")
            if isinstance(node, ast.ImportFrom) and node.module in ("contextlib",):
                for a in node.names:
                    if a.name in REDIRECTS:
                        zero(f"imports {a.name} (the check cells' output must reach the grader)")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if any(s in node.value for s in REFERENCE_STRINGS):
                zero(f"reads the stored references ('{node.value[:40]}')")
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in REFERENCE_HELPERS:
                zero(f"reads the stored references ({name})")

        # 4. review: what the exercise asks the student to write themselves
        if forbids and isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load):
            dotted = _dotted(node)
            if dotted:
                full = resolve(dotted, table)
                hit = _forbidden(full, forbids)
                if hit:
                    review(f"uses {hit}, which exercise {exercise} asks you to write yourself")
        if forbids and isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                hit = _forbidden(f"{node.module}.{a.name}", forbids)
                if hit:
                    review(f"imports {hit}, which exercise {exercise} asks you to write yourself")
    return findings


def audit_notebook(nb) -> dict[str, list[Finding]]:
    """Exercise id -> what its answer cells do that grading must know about."""
    from kaibert.course import notebooks as nbs

    context = aliases([c.source for c in nb.cells if c.cell_type == "code" and not nbs.is_answer(c)])
    found: dict[str, list[Finding]] = {}
    for cell in nbs.answer_cells(nb):
        ex = nbs.exercise_of(cell)
        forbids = nbs.info(cell).get("forbids") or []
        for finding in audit_source(cell.source, ex, list(forbids), context):
            mine = found.setdefault(ex, [])
            if finding not in mine:
                mine.append(finding)
    return found
