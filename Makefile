# Two commands for people: `make demo` and `make test`. Both install what they need first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Each program the demo or the tests run, and the Debian package that brings it. Only the
# packages of missing programs are installed: a machine's own Node.js (NodeSource's, say) bundles
# npm and conflicts with Debian's npm package.
SYSTEM_PROGRAMS := ffmpeg:ffmpeg ffprobe:ffmpeg espeak-ng:espeak-ng sox:sox chromium:chromium \
	node:nodejs npm:npm redis-server:redis-server
# The tests start their own PostgreSQL from here (tests/support/postgres.py); it is not on PATH.
PG_BIN := /usr/lib/postgresql/15/bin
SHOW ?= examples/border-reached

.PHONY: demo test install system lint messages clean-demo

demo: install
	$(VENV)/bin/fieldreports run $(SHOW)
	@echo
	@echo "Feed:      $(SHOW)/public/feed.xml"
	@echo "Map:       $(SHOW)/public/map/index.html"
	@echo "Home page: $(SHOW)/public/index.html"
	@echo "Serve it:  $(VENV)/bin/fieldreports serve $(SHOW)   (then open http://localhost:8000/)"
	@echo "Or run the station (uploads from phones, published by itself):"
	@echo "           $(VENV)/bin/fieldreports reporters add $(SHOW) \"Your Name\""
	@echo "           $(VENV)/bin/fieldreports station $(SHOW)   (then open the link it printed)"

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy fieldreports episodes maps pipeline.py

install: system $(STAMP) $(NODE_STAMP)

# After changing interface text in the code: re-extract it into episodes/locale/ (every
# catalog gets the new messages to translate; see docs/map.md, "Adding a language").
messages: install
	$(PY) -m episodes.i18n

system:
	@missing=""; for pair in $(SYSTEM_PROGRAMS); do \
	  command -v $${pair%%:*} >/dev/null || case " $$missing " in \
	    *" $${pair#*:} "*) ;; *) missing="$$missing $${pair#*:}";; esac; done; \
	sox -h 2>/dev/null | grep -q amr-nb || missing="$$missing libsox-fmt-all"; \
	[ -x $(PG_BIN)/initdb ] || missing="$$missing postgresql-15"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# torch is pinned first: the CPU build lies on local disk, while a bare "torch" pulls GBs of CUDA.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# Node packages for the tests only (package.json): tus-js-client, the browser upload client the
# upload server is tested against; podcast-partytime, a Podcasting 2.0 parser; axe-core.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

clean-demo:
	rm -rf $(SHOW)/public $(SHOW)/.fieldreports $(SHOW)/quarantine
