# Every target does the set-up it needs: a fresh clone runs `make grade-examples` or `make test` directly.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup system data grade-examples test test-nonroot generate check-generated check-reference gradescope browser calibrate clean

setup: system $(STAMP) data

# bubblewrap sandboxes each submission. Without root, install it yourself; grading then warns and runs unsandboxed.
system:
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq bubblewrap; } \
		|| echo "warning: bubblewrap is not installed (apt-get install bubblewrap): submissions would run without a sandbox"

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

# The sandbox's tests again as an unprivileged user (needs root to create it): what holds without root.
test-nonroot: setup
	bash .ci/nonroot

generate: $(STAMP)
	$(PY) -m autograder generate
	$(PY) tests/fixtures/build_fixtures.py
	$(PY) tests/fixtures/build_tamper.py

check-generated: $(STAMP)
	$(PY) -m autograder generate --check
	$(PY) tests/fixtures/build_fixtures.py --check
	$(PY) tests/fixtures/build_tamper.py --check

# The reference solution must earn full marks through the real grading engine (about a minute of training).
check-reference: setup
	$(PY) -m autograder grade solutions/fashion_mnist_keras.ipynb --out grades
	$(PY) .ci/expect_full_marks.py grades/grades.csv solutions/fashion_mnist_keras.ipynb

# Gradescope's autograder.zip: see the README's "Gradescope" section.
gradescope: setup
	$(PY) -m autograder gradescope --out build/autograder.zip

# Headless Chromium and its driver, for the tests that render the HTML reports. Needs root; does nothing when present.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then echo "chromium and chromedriver are installed"; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; fi

calibrate: setup
	$(PY) -m autograder calibrate --seeds 5

clean:
	rm -rf $(VENV) grades .pytest_cache
