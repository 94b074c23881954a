"""The sandbox an instructor's grading runs each student kernel in (bubblewrap).

Why bubblewrap: it is one small Debian package (``apt-get install bubblewrap``), it needs no
daemon and no root, and one command line says everything the kernel may see. A kernel started
through :func:`kernel_argv` runs with

- read-only views of the Python installation (``/usr``, the interpreter, the virtual
  environment) and of the ``kaibert`` package folder only: the course repository around it
  (``solutions/`` above all) is not there;
- a private scratch folder, the only writable place besides a fresh ``/tmp``; it holds the
  notebook being graded and the kernel's connection sockets;
- its own network namespace (no interface but a loopback of its own: no way out, not even to
  the grading machine's ports), its own PID namespace (it sees and can signal only its own
  processes; when the kernel ends, the kernel of Linux ends every process it started), its own
  IPC and host-name namespaces, and a new session (no terminal to type into);
- limits set with ``prlimit``: address space (memory), processes, size of any file written.
  The process limit counts per user: when grading runs as root (a container, CI), the kernel
  runs as a user id of its own, so the limit counts only the sandbox's processes; as an
  ordinary user, bubblewrap's user namespace does the same (Linux 5.14 or later).

Wall time per cell and per notebook, and the size of what a notebook prints, are limited by the
grader (``kaibert.course.grade``), which sees the kernel's messages.

Jupyter talks to the kernel over ZeroMQ; with the network cut, it uses the ``ipc`` transport:
Unix sockets in the scratch folder, which the grader and the sandbox both see.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

BWRAP = "bwrap"
NONE, BWRAP_MODE = "none", "bwrap"
MODES = (BWRAP_MODE, NONE)
INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install bubblewrap) "
    "on a Linux machine whose kernel allows user namespaces, or grade without a sandbox with --no-sandbox "
    "(the students' code then runs with your own rights; the gradebook records it)"
)
# Variables a kernel may inherit from the grader; everything else (tokens, paths) stays out.
PASSED_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LANG", "LC_ALL", "TZ")
FIRST_UID = 200_000  # user ids for kernels when grading runs as root: far above any real user
_uids = itertools.count()


class SandboxError(RuntimeError):
    """No sandbox can start here; the message says how to get one."""


@dataclass(frozen=True)
class Limits:
    """What one graded notebook may use; each has a flag in kaibert-grade and kaibert-grade-class."""

    memory_mb: int = 4096           # address space of each process in the sandbox
    processes: int = 256            # processes and threads (torch starts one thread per core)
    cell_seconds: float = 60.0      # wall time of one cell
    notebook_seconds: float = 900.0  # wall time of the whole notebook, kernel start included
    output_kb: int = 1024           # what one cell may print; the rest is dropped and the cell fails
    file_mb: int = 256              # the largest file the kernel may write, and the size of its /tmp

    def __post_init__(self):
        for name in ("memory_mb", "processes", "cell_seconds", "notebook_seconds", "output_kb", "file_mb"):
            if not getattr(self, name) > 0:
                raise ValueError(f"the limit {name} must be positive, got {getattr(self, name)!r}")


def _python_paths() -> list[Path]:
    """Folders the interpreter needs: the base installation and the virtual environment."""
    found = []
    for prefix in (sys.base_prefix, sys.prefix, sys.exec_prefix):
        path = Path(prefix).resolve()
        if path not in found:
            found.append(path)
    exe = Path(sys.executable).resolve()
    if not any(exe.is_relative_to(p) for p in found):
        found.append(exe.parent)
    return found + _linked_paths(found)


def _linked_paths(bound: list[Path]) -> list[Path]:
    """Folders outside the environment that its imports reach: those its .pth files add to sys.path
    (an environment that links to packages installed elsewhere), and where the links inside them
    point. Never the course repository around kaibert (an editable install's .pth names it): only
    the kaibert folder inside it is bound."""
    import site

    repo = package_dir().parent
    found: list[Path] = []

    def add(path: Path) -> None:
        path = path.resolve()
        if not path.exists() or any(path.is_relative_to(p) for p in [*bound, *found]):
            return
        if path.is_relative_to(repo) or repo.is_relative_to(path):
            return
        found.append(path)

    for site_dir in map(Path, site.getsitepackages()):
        for pth in sorted(site_dir.glob("*.pth")):
            for line in pth.read_text(errors="replace").splitlines():
                line = line.strip()
                if line and not line.startswith(("#", "import ", "import\t")) and (site_dir / line).is_dir():
                    add(site_dir / line)  # an absolute line stays absolute: / joins it as it is
    for folder in list(found):
        for item in folder.iterdir():
            if item.is_symlink():
                add(item)
    return found


def package_dir() -> Path:
    """The kaibert package folder (never the repository around it)."""
    import kaibert

    return Path(kaibert.__file__).resolve().parent


def _system_binds() -> list[str]:
    """/usr read-only, and /bin, /lib, ... as links into it (or read-only when they are folders)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives"):
        path = Path("/etc") / name
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


# Set for every graded kernel, sandboxed or not: the same hashes, no windows, no downloads.
GRADING_ENV = {
    "PYTHONHASHSEED": "0",
    "MPLBACKEND": "Agg",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "TQDM_DISABLE": "1",
}


def sandbox_env(scratch: Path) -> dict[str, str]:
    """The sandboxed kernel's whole environment: a fixed, small set of variables."""
    venv_bin = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch),
        "TMPDIR": "/tmp",
        "USER": "student",
        "LOGNAME": "student",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "IPYTHONDIR": "/tmp/ipython",
        **GRADING_ENV,
    }
    env.update({k: os.environ[k] for k in PASSED_ENV if k in os.environ})
    return env


def wrap(argv: list[str], scratch: Path, limits: Limits, uid: int | None = None) -> list[str]:
    """The bubblewrap command line that runs ``argv`` in the sandbox, in ``scratch``.

    ``uid`` (only when grading runs as root): the user id the kernel runs as.
    """
    scratch = Path(scratch).resolve()
    cmd = [shutil.which(BWRAP) or BWRAP]
    if uid is None:
        cmd += ["--unshare-all"]
    else:  # root: no user namespace, so that the kernel can be moved to a user id of its own
        cmd += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    cmd += ["--die-with-parent", "--new-session", "--clearenv"]
    for key, value in sandbox_env(scratch).items():
        cmd += ["--setenv", key, value]
    cmd += _system_binds()
    # A fresh /tmp first: bubblewrap mounts in order, so a /tmp mounted after the binds would hide
    # a course (or its environment) that lives under /tmp.
    tmp_size = str(limits.file_mb * 2**20)  # /tmp lives in memory: it holds at most one largest file
    cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", tmp_size, "--tmpfs", "/tmp",
            "--size", tmp_size, "--tmpfs", "/dev/shm"]
    binds = [*_python_paths(), package_dir()]
    parents = sorted({str(p) for path in binds for p in path.parents if str(p) not in ("/", "/usr", "/tmp")})
    for folder in parents:  # folders above the binds: traversable by the kernel's user, empty otherwise
        cmd += ["--perms", "0755", "--dir", folder]
    for path in binds:
        cmd += ["--ro-bind", str(path), str(path)]
    for folder in reversed(scratch.parents):
        if str(folder) not in ("/", "/tmp") and str(folder) not in parents:
            cmd += ["--perms", "0755", "--dir", str(folder)]
    cmd += ["--bind", str(scratch), str(scratch), "--chdir", str(scratch), "--hostname", "sandbox", "--"]
    if uid is not None:
        cmd += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--bounding-set=-all",
                "--inh-caps=-all", "--"]
    cmd += ["prlimit", f"--as={limits.memory_mb * 2**20}", f"--nproc={limits.processes}",
            f"--fsize={limits.file_mb * 2**20}", "--core=0", "--"]
    return cmd + list(argv)


def new_uid() -> int | None:
    """A user id for the next kernel when grading runs as root (None otherwise)."""
    if not _root():
        return None
    return FIRST_UID + (os.getpid() % 1000) * 1000 + next(_uids) % 1000


def prepare_scratch(scratch: Path, uid: int | None) -> None:
    """The scratch folder, writable by the kernel's user."""
    scratch.mkdir(parents=True, exist_ok=True)
    if uid is not None:
        os.chown(scratch, uid, uid)
    scratch.chmod(0o700)


@lru_cache(maxsize=None)
def _trial(root: bool) -> str | None:
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"kaibert-sandbox-trial-{os.getpid()}"
    uid = new_uid() if root else None
    try:
        prepare_scratch(scratch, uid)
        # a quick start of this Python, which must see the package (importing it would cost seconds)
        probe = "import os, sys; sys.exit(0 if os.path.isfile(sys.argv[1]) else 3)"
        cmd = wrap([sys.executable, "-I", "-S", "-c", probe, str(package_dir() / "__init__.py")], scratch, Limits(), uid)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bubblewrap did not run ({type(err).__name__}: {err})"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if done.returncode == 3:
        return f"the kaibert package ({package_dir()}) is not visible inside the sandbox"
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return f"bubblewrap could not start a sandbox here ({why})"
    return None


def problem() -> str | None:
    """Why no sandbox can start on this machine, with the fix; None when one can."""
    if not sys.platform.startswith("linux"):
        return f"no sandbox on {sys.platform}: grading in a sandbox needs Linux; " + INSTALL_HINT
    if shutil.which(BWRAP) is None:
        return "bubblewrap (bwrap) is not installed: " + INSTALL_HINT
    for tool in ("prlimit",) + (("setpriv",) if _root() else ()):
        if shutil.which(tool) is None:
            return f"{tool} (util-linux) is not installed: install util-linux, or grade with --no-sandbox"
    found = _trial(_root())
    return None if found is None else found + ": " + INSTALL_HINT


def require() -> None:
    """Raise SandboxError (with how to get a sandbox) when none can start here."""
    found = problem()
    if found:
        raise SandboxError(found)
