# Every target does the set-up it needs: a fresh clone runs `make grade-examples` or `make test` directly.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup system data grade-examples test test-fast lint test-nonroot generate assignment check-generated check-reference gradescope browser libreoffice calibrate clean

setup: system $(STAMP) data

# What set-up needs from Debian/Ubuntu: Python's venv (Debian ships ensurepip in python3.X-venv, so `python3 -m venv`
# fails without it) and bubblewrap (sandboxes each submission). As root, apt-get installs what is missing. Without
# root, one line names exactly what to install: a missing venv stops set-up; a missing bubblewrap only warns
# (grading then runs unsandboxed and says so).
VENV_PACKAGE = $(shell $(PYTHON) -c 'import sys; print("python3.%d-venv" % sys.version_info[1])' 2>/dev/null || echo python3-venv)
system:
	@missing=""; \
	$(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$(VENV_PACKAGE)"; \
	command -v bwrap >/dev/null 2>&1 || missing="$${missing:+$$missing }bubblewrap"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else case "$$missing" in \
		*venv*) echo "error: set-up needs $$missing, which only root can install: run \`sudo apt-get install $$missing\` (or ask an administrator), then make again" >&2; exit 1;; \
		*) echo "warning: bubblewrap is not installed (\`sudo apt-get install bubblewrap\`): submissions would run without a sandbox" >&2;; \
	esac; fi

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# The development tools (requirements-dev.txt), installed on top of the kit's own dependencies.
DEV_STAMP := $(VENV)/.installed-dev
$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(DEV_STAMP)

# ruff (style, imports, bugbear) and mypy (types), configured in pyproject.toml. CI runs it first.
lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

data: $(STAMP)
	$(PY) -m autograder setup-data

grade-examples: setup
	$(PY) -m autograder grade solutions/fashion_mnist_keras.ipynb student_template/fashion_mnist_keras.ipynb examples/class examples/canvas --out grades

# The complete suite, as CI runs it.
test: setup
	$(PY) -m pytest

# The inner loop: every module's logic, without the trainings, the graded batches, Chromium and LibreOffice (pytest.ini).
test-fast: setup
	$(PY) -m pytest -m "not slow and not browser and not office"

# The sandbox's tests again as an unprivileged user (needs root to create it): what holds without root.
test-nonroot: setup
	bash .ci/nonroot

generate: $(STAMP)
	$(PY) -m autograder generate
	$(PY) tests/fixtures/build_fixtures.py
	$(PY) tests/fixtures/build_tamper.py

# After editing assignment/fashion_mnist_keras.ipynb: the hand-out, the reference, its expected facts and the
# threshold, checked (the reference earns full marks at every seed, the template zero). Several minutes of training.
assignment: setup
	$(PY) -m autograder assignment --seeds 5
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

# Headless Chromium and its driver, for the tests that render the HTML reports, and axe-core (pinned, from the npm
# registry into build/), which audits the reports' accessibility in that browser. Needs root for apt; does nothing
# when present.
AXE_VERSION := 4.10.3
AXE_DIR := build/axe-core
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then echo "chromium and chromedriver are installed"; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; fi
	@if [ -f $(AXE_DIR)/node_modules/axe-core/axe.min.js ] && grep -q '"version": "$(AXE_VERSION)"' $(AXE_DIR)/node_modules/axe-core/package.json; \
	then echo "axe-core $(AXE_VERSION) is installed"; else \
		command -v npm >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }; \
		npm install --prefix $(AXE_DIR) --no-save --no-audit --no-fund --no-package-lock axe-core@$(AXE_VERSION); fi

# LibreOffice Calc, headless, for the test that opens the CSV files as a spreadsheet would (tests/test_csv_formulas.py).
# Needs root; does nothing when present.
libreoffice:
	@if command -v soffice >/dev/null 2>&1; then echo "libreoffice is installed"; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libreoffice-calc; fi

calibrate: setup
	$(PY) -m autograder calibrate --seeds 5

clean:
	rm -rf $(VENV) grades .pytest_cache
