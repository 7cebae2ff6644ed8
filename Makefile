# Every target does the set-up it needs: a fresh clone runs `make grade-examples` or `make test` directly.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup data grade-examples test generate check-generated calibrate clean

setup: $(STAMP) data

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

data: $(STAMP)
	$(PY) -m autograder setup-data

grade-examples: setup
	$(PY) -m autograder grade solutions/fashion_mnist_keras.ipynb student_template/fashion_mnist_keras.ipynb examples --out grades

test: setup
	$(PY) -m pytest

generate: $(STAMP)
	$(PY) -m autograder generate
	$(PY) tests/fixtures/build_fixtures.py

check-generated: $(STAMP)
	$(PY) -m autograder generate --check
	$(PY) tests/fixtures/build_fixtures.py --check

calibrate: setup
	$(PY) -m autograder calibrate --seeds 5

clean:
	rm -rf $(VENV) grades .pytest_cache
