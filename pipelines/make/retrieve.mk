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
# compare-retrieval: BM25 (a k1 × b grid) against tf-idf cosine on OUT's mined pairs and the
# PROFILE's customization targets and folds (FOLDS=0,1,2,3 for all four; PROJECTS=id,id), scored
# as `tailor evaluate` scores the ir rows (examples/retrieval_scorers.rs; reads OUT only). Needs
# `make mine`, `make examples` and the PROFILE's baseline (its tokenizer and length limit).
# fixtures-retrieve recomputes the scikit-learn scores the tf-idf scorer is tested against.
# Like bench-metrics: the shared dev build (dependencies at opt-level 3, tailor at 1);
# RETRIEVE_BENCH_PROFILE=release measures tailor's code fully optimised.
RETRIEVE_BENCH_PROFILE ?= dev

.PHONY: retrieve bench-retrieve compare-retrieval fixtures-retrieve

retrieve: build ## Nearest existing tests of PROJECT for FOCAL='…' (or JAVA=file METHOD=name), adapted (K=5)
	@test -n "$(PROJECT)" -a \( -n "$(FOCAL)" -o \( -n "$(JAVA)" -a -n "$(METHOD)" \) \) || { echo "usage: make retrieve PROJECT=<id> FOCAL='<method>' [CLASS=<name>] | JAVA=<file> METHOD=<name> [K=5]"; exit 2; }
	$(TAILOR) retrieve --out $(OUT) --project $(PROJECT) -k $(K) \
	  $(if $(FOCAL),--focal '$(FOCAL)' $(if $(CLASS),--class $(CLASS)),--java $(JAVA) --method $(METHOD))

bench-retrieve: ## Queries/s of BM25 top-5 within each project on a synthetic 79,652-pair corpus, tf-idf beside it (criterion)
	$(CARGO) bench --bench retrieve --profile $(RETRIEVE_BENCH_PROFILE)

compare-retrieval: ## BM25 (k1, b grid) vs tf-idf cosine: BLEU-4, top-1/5 exact of the ir outputs per target (PROFILE=cpu, FOLDS=, PROJECTS=), queries/s
	$(CARGO) run --example retrieval_scorers -- --out $(OUT) --profile $(PROFILE) \
	  $(if $(PROJECTS),--projects $(PROJECTS)) $(if $(FOLDS),--folds $(FOLDS))

fixtures-retrieve: $(VENV_HF)/.installed ## Regenerate fixtures/retrieve/tfidf_sklearn.json with scikit-learn (needs PyPI)
	$(VENV_HF)/bin/python pipelines/python/retrieve_tfidf_reference.py fixtures/retrieve/tfidf_sklearn.json
