"""What can be checked of the course under Pythons that have no torch here (Colab runs 3.12 and 3.13).

    python tools/python_versions.py PYTHON [PYTHON ...]

For each interpreter given: every tracked .py file and every notebook code cell compiles with
warnings as errors (3.12 made invalid escape sequences a SyntaxWarning, for instance); and
kaibert's tokenizer, which is pure Python, gives the same ids as the Rust ``tokenizers`` library
on the tokenizer tests' texts (Unicode tables change with Python versions). The second check needs
``tokenizers`` installed for that Python and the offline model's vocabulary; it is skipped, saying
so, without them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COMPILE = r'''
import json, subprocess, sys, warnings
warnings.simplefilter("error", SyntaxWarning)
warnings.simplefilter("error", DeprecationWarning)
files = subprocess.run(["git", "ls-files", "*.py", "*.ipynb"], capture_output=True, text=True, check=True).stdout.split()
bad = []
for f in files:
    with open(f, encoding="utf-8") as handle:
        text = handle.read()
    if f.endswith(".py"):
        sources = [(f, text)]
    else:
        cells = [c for c in json.loads(text)["cells"] if c["cell_type"] == "code"]
        # shell and magic lines (!pip, %time) are IPython's, not Python's
        sources = [(f"{f} cell {i}", "\n".join("pass" if l.lstrip().startswith(("!", "%")) else l
                                               for l in "".join(c["source"]).splitlines()))
                   for i, c in enumerate(cells)]
    for name, source in sources:
        try:
            compile(source, name, "exec")
        except (SyntaxError, SyntaxWarning, DeprecationWarning) as err:
            bad.append(f"{name}: {type(err).__name__}: {err}")
print(f"{len(files)} files compile" if not bad else "\n".join(bad))
sys.exit(1 if bad else 0)
'''

TOKENIZER = r'''
import importlib.util, sys, unicodedata
try:
    from tokenizers import BertWordPieceTokenizer
except ImportError:
    print("tokenizer check skipped: no tokenizers package for this Python")
    sys.exit(0)
spec = importlib.util.spec_from_file_location("tokenization", "kaibert/tokenization.py")
tokenization = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tokenization)  # the module alone: kaibert's __init__ imports torch
vocab = sys.argv[1]
ours, rust = tokenization.BertTokenizer(vocab), BertWordPieceTokenizer(vocab, lowercase=True)
source = open("tests/test_tokenization.py", encoding="utf-8").read()
names = {}
exec(source[source.index("TEXTS = ["):source.index("# Sentence pairs")], names)
texts = names["TEXTS"] + ["ΣΟΦΟΣ ΟΔΥΣΣΕΥΣ", "Σ at the end: ΛΟΓΟΣ"]
bad = [t for t in texts if ours.encode(t) != rust.encode(t).ids]
print(f"tokenizer (Unicode {unicodedata.unidata_version}): {len(texts) - len(bad)} of {len(texts)} texts give "
      f"the ids of the Rust tokenizer" + (f"; differ: {bad}" if bad else ""))
sys.exit(1 if bad else 0)
'''


def vocabulary() -> str | None:
    """The offline model's vocab.txt, from this (3.11) environment."""
    try:
        from kaibert.course import pretrained_bert_path
    except ImportError:
        return None
    path = Path(pretrained_bert_path()) / "vocab.txt"
    return str(path) if path.is_file() else None


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    vocab, failed = vocabulary(), 0
    for python in argv:
        version = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        for name, script, extra in [("compile", COMPILE, []), ("tokenizer", TOKENIZER, [vocab] if vocab else None)]:
            if extra is None:
                print(f"Python {version}: {name} check skipped: the offline model is not installed here")
                continue
            done = subprocess.run([python, "-c", script, *extra], cwd=ROOT, capture_output=True, text=True)
            print(f"Python {version}: {done.stdout.strip() or done.stderr.strip()[-2000:]}")
            failed += done.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
