# Shopfloor. The two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HTTPS_PORT ?= 8443
export PORT HTTPS_PORT

.PHONY: run test install translations demo lint bench bench-sync bench-drain bench-labels bench-scan clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed translations

translations: $(BIN)/.installed
	$(BIN)/pybabel compile --statistics -d webapp/translations 2>&1 | grep -v "^compiling" || true
	@test -f webapp/translations/zh_Hans_CN/LC_MESSAGES/messages.mo

## run: create/upgrade the database, load the demo plant on first run, serve HTTP + LAN HTTPS
run: install
	$(BIN)/flask --app webapp db upgrade
	$(BIN)/flask --app webapp demo --if-empty
	$(BIN)/python -m webapp.serve

## test: install what the tests need, then every suite on SQLite and the integration suite on PostgreSQL
test: install
	$(BIN)/python tests/run.py

## extract new strings into the catalogues (then translate webapp/translations/zh_CN)
messages: $(BIN)/.installed
	$(BIN)/pybabel extract -F webapp/babel.cfg -k _l -o webapp/translations/messages.pot .
	$(BIN)/pybabel update -i webapp/translations/messages.pot -d webapp/translations --no-fuzzy-matching

lint: $(BIN)/.installed
	$(BIN)/ruff check webapp sync tests bench

## bench: benchmarks (shell size, bin page server time at 20,000 bins)
bench: install
	$(BIN)/python bench/run.py

## bench-sync: push ingest rate vs bulk insert, 20 devices at once; then the inspection mix; SQLite and PostgreSQL
bench-sync: install
	$(BIN)/python bench/sync_bench.py
	$(BIN)/python bench/sync_bench.py --mix inspection

## bench-drain: a real Chromium drains 10,000 queued events (events per second)
bench-drain: install
	$(BIN)/python bench/drain_bench.py

## bench-labels: labels per second for 1,000 labels: PDF (a4-24, 50x30) and ZPL
bench-labels: install
	$(BIN)/python bench/labels_bench.py

## bench-scan: label in the camera to bin page ready (headless Chromium, fake camera), online and offline, 20 runs each
bench-scan: install
	$(BIN)/python bench/scan_bench.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
