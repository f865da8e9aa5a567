# The two commands of the README: `make run` and `make test`. Everything they need is set up here.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test lint bench browser-deps fonts

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## run: the dashboard on the demo dataset (built on first run), at http://localhost:$(PORT)
run: $(VENV)/.installed fonts
	$(PY) -m dayuan_geo demo --if-missing
	$(PY) -m streamlit run server.py --server.port $(PORT) --browser.gatherUsageStats false

## test: lint, then every test, browser tests included
test: $(VENV)/.installed-dev browser-deps
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .

# Chromium, CJK fonts and poppler (pdftoppm renders the briefing's pages) from Debian for the tests
# (installed when missing and root).
browser-deps:
	@if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "Noto Sans CJK" && command -v pdftoppm >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk poppler-utils >/dev/null; \
	else \
		echo "Browser tests need Chromium: sudo apt-get install -y chromium fonts-noto-cjk poppler-utils (they are skipped without it)"; \
	fi

# The monthly briefing embeds Noto Sans CJK (Debian's fonts-noto-cjk): installed for `make run` when missing and root.
fonts:
	@if fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null; \
	else \
		echo "The monthly briefing needs CJK fonts: sudo apt-get install -y fonts-noto-cjk"; \
	fi
