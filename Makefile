# fs1 — two commands do all the set-up: `make demo` and `make test`.
PY ?= python3
# torch goes in first so the range in pyproject.toml is already met: the CPU build by default;
# on a CUDA machine: make setup TORCH_SPEC=torch  (PyPI's default Linux wheel is the CUDA build).
TORCH_SPEC ?= torch==2.13.0
# Extras installed with the package; a GPU node adds vllm in the same pip run (see README "GPU install").
EXTRAS ?= llamacpp,dev,embed
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.fs1-installed

.PHONY: setup demo demo-quick test test-fast lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Installs the package with the CPU torch pin, llama.cpp bindings and dev tools; Chromium for the HTML report test.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	bash scripts/install_system_deps.sh
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/fs1 run configs/demo.yaml --out runs/demo

demo-quick: setup
	$(BIN)/fs1 run configs/demo-quick.yaml --out runs/demo-quick

test: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check --quiet src tests benchmarks scripts
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

clean:
	rm -rf $(VENV) runs build dist
