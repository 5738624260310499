# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint install clean bench bench-crawl bench-query bench-store bench-archive

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/newscrawl demo

# The tests marked serial (they judge timing or CPU shares) on their own,
# then the rest in TEST_WORKERS parallel processes; either failing fails it.
# The tests are handed to those processes one at a time (--maxschedchunk 1),
# not in runs of neighbours: a module of long tests (test_resume.py) is then
# shared by all of them instead of ending the run on one.
TEST_WORKERS ?= 3
test: $(STAMP)
	$(BIN)/python -m pytest -m serial; serial=$$?; \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxschedchunk 1 -m "not serial"; parallel=$$?; \
	test $$parallel -eq 0 -a $$serial -eq 0

# Everything but the end-to-end tests (no crawls, servers, PostgreSQL or Redis).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not e2e" -n 2

# Benchmarks write bench/results/*.json and print Markdown tables (docs/performance.md).
bench: bench-crawl bench-query bench-archive

# Crawl, extraction, store and daemon against a plain Scrapy baseline, on a
# generated site of N articles: `make bench-crawl N=1000` for a quick run.
N ?= 5000
bench-crawl: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/crawl_bench.py --articles $(N) $(BENCH_ARGS)

# The store alone against plain sqlite3 (same rows, schema and full-text
# index), ROUNDS rounds alternating: a quick check of the store's own cost.
ROUNDS ?= 5
bench-store: $(STAMP)
	$(BIN)/python bench/store_bench.py --articles $(N) --rounds $(ROUNDS)

bench-query: $(STAMP)
	$(BIN)/python bench/query_bench.py

# One daemon keeping SITES generated sites current, their schedules FACTOR
# times faster, for SPAN seconds per number of sites:
# `make bench-daemon SITES="100 300 1000" FACTOR=60 SPAN=180`.
SITES ?= 100 300
FACTOR ?= 60
SPAN ?= 180
.PHONY: bench-daemon
bench-daemon: $(STAMP)
	$(BIN)/python bench/daemon_bench.py --sites $(SITES) --factor $(FACTOR) --span $(SPAN) $(BENCH_ARGS)

# The page archive: crawl throughput with capture on and off, disk per 1,000
# articles (WARC and database), reextract against a first extraction.
bench-archive: $(STAMP)
	$(BIN)/python bench/archive_bench.py --articles $(or $(ARCHIVE_N),1000)

# After adding a migration: the schema a new SQLite file or PostgreSQL
# database is given (migrations/*_schema.json, docs/schema.md), made again from
# the migrations; PostgreSQL's on the server of NEWSCRAWL_TEST_POSTGRES_URL.
POSTGRES_ADMIN ?= $(or $(NEWSCRAWL_TEST_POSTGRES_URL),postgresql+psycopg://postgres@127.0.0.1:5432/postgres)
.PHONY: schema-snapshot
schema-snapshot: $(STAMP)
	$(BIN)/python -c "from crawler.storage.database import write_sqlite_snapshot; write_sqlite_snapshot()"
	$(BIN)/python -c "from crawler.storage.database import write_postgres_snapshot; write_postgres_snapshot('$(POSTGRES_ADMIN)')"

lint: $(STAMP)
	$(BIN)/ruff check crawler pipelines settings migrations tests bench
	$(BIN)/ruff format --check crawler pipelines settings migrations tests bench

clean:
	rm -rf $(VENV) build *.egg-info
