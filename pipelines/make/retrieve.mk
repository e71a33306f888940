# Retrieval (src/retrieve/, DESIGN "Retrieval"): the nearest existing tests of a project for a
# focal method, and the throughput of all-pairs retrieval.
#
# retrieve: PROJECT= and either FOCAL='<method declaration>' (CLASS= optional) or JAVA=<file>
# METHOD=<name>; K= tests (default 5). Reads OUT/tables/pairs.parquet (`make mine` first).
PROJECT ?=
FOCAL   ?=
CLASS   ?=
JAVA    ?=
METHOD  ?=
K       ?= 5
# Like bench-metrics: the shared dev build (dependencies at opt-level 3, tailor at 1);
# RETRIEVE_BENCH_PROFILE=release measures tailor's code fully optimised.
RETRIEVE_BENCH_PROFILE ?= dev

.PHONY: retrieve bench-retrieve

retrieve: build ## Nearest existing tests of PROJECT for FOCAL='…' (or JAVA=file METHOD=name), adapted (K=5)
	@test -n "$(PROJECT)" -a \( -n "$(FOCAL)" -o \( -n "$(JAVA)" -a -n "$(METHOD)" \) \) || { echo "usage: make retrieve PROJECT=<id> FOCAL='<method>' [CLASS=<name>] | JAVA=<file> METHOD=<name> [K=5]"; exit 2; }
	$(TAILOR) retrieve --out $(OUT) --project $(PROJECT) -k $(K) \
	  $(if $(FOCAL),--focal '$(FOCAL)' $(if $(CLASS),--class $(CLASS)),--java $(JAVA) --method $(METHOD))

bench-retrieve: ## Queries/s of BM25 top-5 within each project on a synthetic 79,652-pair corpus (criterion)
	$(CARGO) bench --bench retrieve --profile $(RETRIEVE_BENCH_PROFILE)
