# Two commands: `make run` (set up, index, serve the chat) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install index run test test-fast clean

install: $(VENV)/.installed

# torch first: the CPU build 2.13.0 is the one this machine holds; anything else pulls CUDA.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[st,ui,dev]"
	touch $@

index: install
	$(BIN)/assistant index build

# Rebuild when there is no usable index for these settings, or when the corpus changed since.
run: install
	$(BIN)/assistant index status --check >/dev/null 2>&1 || $(BIN)/assistant index build
	$(BIN)/assistant serve

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf var/index .pytest_cache
