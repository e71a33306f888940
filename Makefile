# tailor — every target is a thin call of the `tailor` binary; `tailor <stage> --help` documents
# the same options. Variables are the same everywhere (see README).
CARGO    ?= cargo
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
TAILOR   ?= $(TARGET_DIR)/debug/tailor
OUT      ?= out
CORPUS   ?= pipelines/corpora/debian-java-default.csv
JOBS     ?= 4
PRESET   ?= small
BACKEND  ?= auto
STRATEGY ?= all
PROJECTS ?=
FEATURES ?=

.PHONY: build mine table2 test lint fmt clean-out help

help:
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

# The dev profile optimises dependencies (and our code at -O1): tests and make targets share
# one build, so a fresh clone compiles polars and burn once.
build: ## Build the tailor binary (dev profile, optimised dependencies)
	$(CARGO) build --bin tailor $(if $(FEATURES),--features $(FEATURES))

mine: build ## Acquire CORPUS, extract pairs into OUT/tables, print the summary and Table 2
	$(TAILOR) mine --corpus $(CORPUS) --out $(OUT) --jobs $(JOBS)

table2: build ## Re-sample Table 2's targets from OUT/tables/projects.parquet
	$(TAILOR) table2 --out $(OUT)

test: ## The whole test suite (offline, deterministic)
	$(CARGO) test --all-targets
	$(CARGO) test --doc

lint: ## rustfmt check and clippy with warnings as errors
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

clean-out: ## Remove all outputs (checkouts and downloads included)
	rm -rf $(OUT)/tables $(OUT)/reports $(OUT)/figures $(OUT)/cache

-include $(sort $(wildcard pipelines/make/*.mk))
