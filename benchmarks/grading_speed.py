"""What grading costs over just running the notebook, and how long a class takes.

    python benchmarks/grading_speed.py [--chapter 03] [--repeats 3] [--copies 50] [--jobs 2] [--no-sandbox]

1. Grades the chapter's reference notebook (``solutions/NN_*.ipynb``, graded against
   ``exercises/NN_*.ipynb``, in the sandbox unless ``--no-sandbox``), interleaved with executing
   the same notebook once with ``jupyter nbconvert --execute`` (the floor: one fresh kernel,
   every cell once). Interleaving (A B A B ...) makes a busy machine slow both alike. Prints the
   median of each and the ratio grading / floor.
2. Grades a class of ``--copies`` copies of the reference notebook with ``kaibert-grade-class
   --jobs N`` and prints the wall time, per notebook and in all (``--copies 0`` skips it).

Each timing is a separate process, as an instructor would run it: start-up included.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chapter", default="03")
    parser.add_argument("--repeats", type=int, default=3, help="timings of each, interleaved (default 3)")
    parser.add_argument("--copies", type=int, default=50, help="size of the class (default 50; 0 skips)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks graded at once in the class (default 2)")
    parser.add_argument("--no-sandbox", action="store_true", help="grade without the sandbox")
    args = parser.parse_args(argv)

    solution = next((ROOT / "solutions").glob(f"{args.chapter}_*.ipynb"))
    exercise = ROOT / "exercises" / solution.name
    sandbox = ["--no-sandbox"] if args.no_sandbox else []
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="kaibert-grading-speed-") as tmp:
        tmp = Path(tmp)
        grade_cmd = [python, "-m", "kaibert.course.grade", str(solution), "--reference", str(exercise), *sandbox]
        floor_cmd = [python, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                     "--output", str(tmp / "executed.ipynb"), str(solution)]
        timed(floor_cmd, tmp)  # warm the file cache once, uncounted
        grading, floor = [], []
        for _ in range(args.repeats):
            floor.append(timed(floor_cmd, tmp))
            grading.append(timed(grade_cmd, tmp))
        g, f = statistics.median(grading), statistics.median(floor)
        print(f"chapter {args.chapter}, {args.repeats} interleaved runs each, "
              f"{'no sandbox' if args.no_sandbox else 'bubblewrap sandbox'}")
        print(f"  nbconvert --execute (floor): median {f:.2f} s  {[round(x, 2) for x in floor]}")
        print(f"  kaibert-grade:               median {g:.2f} s  {[round(x, 2) for x in grading]}")
        print(f"  ratio grading / floor: {g / f:.2f}x")

        if args.copies > 0:
            subs = tmp / "class"
            for i in range(args.copies):
                (subs / f"student{i:03d}").mkdir(parents=True)
                shutil.copy(solution, subs / f"student{i:03d}" / solution.name)
            cmd = [python, "-m", "kaibert.course.gradebook", str(subs), "--out", str(tmp / "gradebook.csv"),
                   "--chapters", args.chapter, "--exercises", str(ROOT / "exercises"), "--jobs", str(args.jobs),
                   *sandbox]
            seconds = timed(cmd, tmp)
            print(f"  class of {args.copies} copies, --jobs {args.jobs}: {seconds:.1f} s in all, "
                  f"{seconds / args.copies:.2f} s per notebook ({seconds / args.copies / f:.2f}x the floor)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
