# storewatch: `make demo` and `make test` are all a new machine needs (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install chromium demo test bench check clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

## chromium: Debian's Chromium, for the pages a spider renders: installed with apt when this user can (root or
## passwordless sudo), else one line says how. storewatch never downloads a browser.
chromium:
	@sh scripts/ensure-chromium

## demo: replay every shipped snapshot into ./data/storewatch.db and print what changed
demo: install chromium
	$(BIN)/storewatch demo

## run: the scheduler service on ./storewatch.toml and ./data/storewatch.db (the live stores); Ctrl-C stops it
.PHONY: run
run: install
	$(BIN)/storewatch schedule

## test: the whole suite, on SQLite and (when its server runs) PostgreSQL
test: install chromium
	$(BIN)/python -m pytest

## bench: ingest throughput and growth on the TF Hub snapshots; diff time and memory on a 1M-model store;
## memory across a 500-page crawl rendered in Chromium; every store under every fault class, and two writers
## at once, on SQLite and PostgreSQL; a million models exported to Parquet; the web archive's size and cost,
## first crawl and unchanged re-crawl; re-extraction of recorded histories against their crawls; a browser-heavy
## crawl split over two runs on one Scrapyd node and on two (needs the PostgreSQL server)
bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/diff.py
	$(BIN)/python bench/export.py
	$(BIN)/python bench/playwright_memory.py
	$(BIN)/python bench/faults.py
	$(BIN)/python bench/archive.py
	$(BIN)/python bench/reextract.py
	$(BIN)/python bench/scrapyd_nodes.py

## check: the schema matches the migrations
check: install  # the models match the migrations: upgrade a scratch database, then alembic check
	@d=$$(mktemp -d) && export STOREWATCH_DATABASE_URL=sqlite:///$$d/check.db && \
	  $(BIN)/storewatch db upgrade >/dev/null && $(BIN)/alembic check; rc=$$?; rm -rf $$d; exit $$rc

clean:
	rm -rf $(VENV) data reports .pytest_cache *.egg-info
