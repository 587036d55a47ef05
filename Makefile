# make train: set up .venv and train SegNet-Basic on the synthetic road scenes (no downloads).
# make test:  set up .venv and run the test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build on disk here; a GPU user: make install TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install train test bench camvid-check clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH_SPEC)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

train: install
	$(BIN)/python src/train.py experiment=quickstart

test: install
	$(BIN)/python -m pytest -q -n 2

clean:
	rm -rf logs data/cache
