# Faro's commands. `make run` to chat with it, `make test` to check it.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install run test lint bench translations diagrams clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

## Install into .venv and start Faro with an embedded Redis (unless REDIS_URL is set).
run: install
	$(VENV)/bin/faro serve

## Install with the test extras, then ruff and the whole suite against a real throwaway Redis.
test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/faro content check --no-sizes --max-age-days 3650
	$(PY) -m pytest

## Benchmarks (not tests): write their figures into docs/benchmarks.md.
bench: install
	$(PY) scripts/bench_language.py --write
	$(PY) scripts/bench_places.py
	$(PY) scripts/bench_sms.py --write
	$(PY) scripts/bench_webhook.py --write
	$(PY) scripts/bench_roundtrips.py --write
	$(PY) scripts/bench_redis.py --write
	$(PY) scripts/bench_memory.py --write
	$(PY) scripts/bench_broadcast.py --write

lint: install
	$(VENV)/bin/ruff check .

## Extract the strings of the flows, update every catalog, compile them.
translations: install
	$(VENV)/bin/pybabel extract -F babel.cfg --no-wrap --sort-by-file -o locales/messages.pot \
		--project=Faro --msgid-bugs-address=- --add-comments=x .
	$(VENV)/bin/pybabel update -i locales/messages.pot -d locales --no-wrap --ignore-obsolete
	$(VENV)/bin/pybabel compile -d locales --statistics

## Mermaid diagrams of every flow into docs/flows/.
diagrams: install
	mkdir -p docs/flows
	for f in flows/*.yaml; do n=$$(basename $$f .yaml); \
		case $$n in keywords|languages|messages) continue;; esac; \
		$(VENV)/bin/faro content diagram $$n > docs/flows/$$n.mmd; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
