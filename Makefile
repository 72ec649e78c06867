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

.PHONY: help install demo test lab export clean
help:
	@echo "make demo    run the kit's main job on the embedded data (preset: $(PRESET))"
	@echo "make test    the whole test suite: pytest + every notebook under the quick preset"
	@echo "make lab     JupyterLab on the notebooks in nbs/"
	@echo "make export  after editing a notebook: clean it and regenerate fitlam/"
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

lab: $(VENV)/.installed
	$(VENV)/bin/jupyter lab nbs

export: $(VENV)/.installed
	$(VENV)/bin/nbdev-clean
	$(VENV)/bin/nbdev-export

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
	find . -name __pycache__ -prune -exec rm -rf {} +
