# fitlam — on a fresh machine, two commands:  make demo  and  make test.
# Each creates .venv (if missing) and installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch: 2.13.0 is the CPU build pip finds on the course machines (never the multi-GB CUDA build there).
# Elsewhere, e.g. a CPU-only laptop:  make test TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
PRESET ?= demo
JOBS ?= auto

.PHONY: help install demo test lab export colab ablate clean
help:
	@echo "make demo    run the kit's main job on the embedded data (preset: $(PRESET))"
	@echo "make test    the whole test suite: pytest + every notebook under the quick preset"
	@echo "make lab     JupyterLab on the notebooks in nbs/"
	@echo "make ablate  the paper's ablation tables on the embedded data (preset: $(PRESET); resumable)"
	@echo "make export  after editing a notebook: clean it and regenerate fitlam/"
	@echo "make colab REPO=https://github.com/YOU/fitlam   point the Colab badge and set-up cells at your fork"
	@echo "make clean   remove .venv and caches"

# The stamp is remade when pyproject.toml changes, so a new dependency gets installed.
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# keep a torch that is already there; otherwise install the pinned build
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(TORCH_SPEC) $(TORCH_PIP_ARGS)
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/fitlam run --preset $(PRESET) --out runs/$(PRESET) --overwrite

test: $(VENV)/.installed
	$(PY) -m pytest -n $(JOBS) tests

ablate: $(VENV)/.installed
	$(VENV)/bin/fitlam ablate --preset $(PRESET) --out runs/ablations-$(PRESET)

lab: $(VENV)/.installed
	$(VENV)/bin/jupyter lab nbs

export: $(VENV)/.installed
	$(VENV)/bin/nbdev-clean
	$(VENV)/bin/nbdev-export

# Where the kit is cloned from (FITLAM_REPO in nbs/34_colab.ipynb): rewrite it, the README's Colab badge and links,
# pyproject.toml and every notebook's Colab set-up cell for REPO; without REPO, rewrite the set-up cells as they are.
colab: $(VENV)/.installed
	$(PY) -c 'import sys; from fitlam.colab import point_kit_at; print(*point_kit_at(sys.argv[1] or None), sep="\n")' "$(REPO)"
	$(VENV)/bin/nbdev-clean
	$(VENV)/bin/nbdev-export

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
	find . -name __pycache__ -prune -exec rm -rf {} +
