# The two commands of the README: `make book` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# System packages installed when we are root and apt-get exists (a laptop without root skips them;
# the data registry then falls back to the canonical downloads, and the page check is skipped).
APT_PACKAGES := dataset-fashion-mnist chromium
# Thread counts: the runner gives every core to the one notebook it runs; never run two at once.
export PYTHONHASHSEED := 0

# The GPU check (README, "A GPU check"): the pack it reads on a machine without a network, and its arguments
PACK   ?= reprobook-pack.tar
GPU_CHECK_ARGS ?=

.PHONY: book test venv system data run build lab sync clean help pack gpu-check dry-run

help:
	@echo "make book   set up everything, execute every notebook (smoke profile), build _build/html"
	@echo "make test   the test suite: unit tests, every notebook in the tiny profile, the book built from"
	@echo "            those runs, the pages and a chapter re-run in JupyterLab checked in headless Chromium"
	@echo "make lab    JupyterLab on notebooks/ with the project's kernel and MyST rendering"
	@echo "make sync   clean the notebook sources and rewrite their text copies (notebooks/**/*.py)"
	@echo "make clean  remove executed notebooks, results and the built book (keeps the data cache)"
	@echo "make dry-run      every chapter's paper-profile path with every loop capped (not evidence)"
	@echo "make pack         write $(PACK) (<= 64 MiB): what the GPU check needs on a machine without a network"
	@echo "make gpu-check    on a GPU: step cost at paper scale, Part I at power, an LLM training stage ->"
	@echo "                  book/measurements (reads $(PACK) when present; GPU_CHECK_ARGS='--executor slurm ...')"

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name reprobook --display-name "Python 3 (reprobook)"
	touch $@

system:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi; \
	else echo "not root or no apt-get: skipping system packages ($(APT_PACKAGES))"; fi

data: venv system
	$(BIN)/reprobook data fetch --profile smoke

# BOOK_JOBS notebooks at once: auto is one per GPU, or two sharing the cores of a CPU (each a share of its threads;
# two one-thread notebooks get through more work on two cores than one two-thread notebook: reprobook bench cpu-jobs,
# kept in book/measurements/cpu-jobs-cpu-amd-epyc-2-cores.json)
BOOK_JOBS ?= auto
run: data
	$(BIN)/reprobook run --profile smoke --jobs $(BOOK_JOBS)

build: run
	$(BIN)/reprobook build

book: build
	@echo "the book: $(CURDIR)/_build/html/index.html"

# The screenshots of the browser checks (book pages, a chapter re-run in JupyterLab) land in _build/screenshots.
# TEST_WORKERS pytest-xdist workers, a test module or class each at a time (--dist loadscope: the tiny book and the
# two halves of the dry book are fixtures of one module or class each, built once); every worker and its notebook
# kernels get an equal share of the cores (tests/conftest.py).
TEST_WORKERS ?= 2
test: venv system
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	REPROBOOK_SCREENSHOTS=$(CURDIR)/_build/screenshots $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope

lab: venv
	$(BIN)/reprobook lab

sync: venv
	$(BIN)/reprobook sync

dry-run: venv system
	$(BIN)/reprobook run --profile paper --dry-run

pack: venv system
	$(BIN)/reprobook data pack --out $(PACK)

gpu-check: venv
	$(BIN)/reprobook gpu-check $(if $(wildcard $(PACK)),--pack $(PACK)) $(GPU_CHECK_ARGS)

clean:
	rm -rf _build executed results
