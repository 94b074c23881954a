"""The command line of every config-driven run (``kaibert-train``, ``kaibert-finetune``).

Library code raises exceptions; ``command`` alone turns them into exit codes and messages:
2 for a config or a folder that cannot work, 143 after SIGTERM and 130 after Ctrl-C (with the
command that resumes the run), 0 when ``--resume`` finds the run already finished.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Callable

from kaibert.run.config import ConfigError
from kaibert.run.devices import process_rank
from kaibert.run.trainer import RunFinished, RunInterrupted


def run_parser(prog: str, description: str, example: str) -> argparse.ArgumentParser:
    """The arguments every config-driven run takes."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", required=True, help=f"YAML config, e.g. {example}")
    parser.add_argument("--resume", nargs="?", const=True, default=None, metavar="CKPT",
                        help="continue from the newest checkpoint of output_dir, or from CKPT")
    parser.add_argument("--output-dir", default=None, help="override the config's output_dir")
    return parser


def resume_command(prog: str, module: str, argv: list[str]) -> str:
    """The command line that continues this run: the same arguments plus ``--resume``."""
    start = [prog] if Path(sys.argv[0]).name == prog else [sys.executable, "-m", module]
    return shlex.join(start + [a for a in argv if a != "--resume"] + ["--resume"])


def command(argv: list[str] | None, *, prog: str, module: str, description: str, example: str,
            load: Callable, run: Callable, report: Callable[[dict], str],
            errors: tuple[type[BaseException], ...] = ()) -> None:
    """Parse ``argv``, ``load`` the config, ``run`` it and print ``report(results)``.

    ``module`` is what ``python -m`` runs (for the resume command); ``errors`` are further
    exceptions that mean bad input (exit 2, no traceback).
    """
    parser = run_parser(prog, description, example)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    try:
        config = load(args.config)
        if args.output_dir:
            config.output_dir = args.output_dir
        results = run(config, resume=args.resume)
    except RunFinished as done:
        print(f"{prog}: {done}")
        return
    except RunInterrupted as stop:
        code = 143 if stop.signal_name == "SIGTERM" else 130
        if process_rank() != 0:
            parser.exit(code)
        parser.exit(code, f"{prog}: {stop}; the run is saved in {stop.checkpoint}.\n"
                          f"Resume it with:\n  {resume_command(prog, module, argv)}\n")
    except (ConfigError, FileExistsError, FileNotFoundError, *errors) as err:
        parser.exit(2, f"{prog}: error: {err}\n")
    if results:                                   # processes other than 0 report nothing
        print(report(results))
        print(f"model saved to {Path(config.output_dir) / 'model'}")
