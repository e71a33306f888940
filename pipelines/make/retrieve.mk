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

# Retrieval-augmented customization (issue 17): the same sweep, evaluation and report as
# `make finetune`/`evaluate`/`report`, with every model input carrying the project's nearest
# existing test (data.retrieved=1; from each fold's training part only), customized from OUT's
# plain baseline, in AUG_OUT (OUT's mined tables, tokenizer and baseline are copied there, never
# modified). AUG_OUT/reports/results.md sits beside OUT/reports/results.md.
AUG_OUT ?= $(OUT)/augmented
.PHONY: finetune-augmented
finetune-augmented: train-build ## Customize with retrieval-augmented inputs (data.retrieved=1) from OUT's baseline in AUG_OUT, then evaluate and report there (STRATEGY=, PROFILE=)
	@test -f $(OUT)/runs/baseline/$(PROFILE)/best/model.safetensors || { echo "no baseline in $(OUT)/runs/baseline/$(PROFILE): run make baseline (or make finetune) first"; exit 2; }
	mkdir -p $(AUG_OUT)/tables $(AUG_OUT)/runs/baseline/$(PROFILE)
	cp $(OUT)/tables/pairs.parquet $(OUT)/tables/projects.parquet $(AUG_OUT)/tables/
	rm -rf $(AUG_OUT)/tokenizer && cp -r $(OUT)/tokenizer $(AUG_OUT)/tokenizer
	test -f $(AUG_OUT)/runs/baseline/$(PROFILE)/best/model.safetensors || \
	  cp -r $(OUT)/runs/baseline/$(PROFILE)/. $(AUG_OUT)/runs/baseline/$(PROFILE)/
	$(TRAIN_ENV) $(BENCH_ENV) $(TAILOR) finetune $(subst --out $(OUT),--out $(AUG_OUT),$(TRAIN_ARGS)) \
	  --set data.retrieved=1 --strategy $(STRATEGY),ir $(if $(PROJECTS),--projects $(PROJECTS)) $(if $(FOLDS),--folds $(FOLDS))
	$(TRAIN_ENV) $(TAILOR) evaluate --out $(AUG_OUT) --profile $(PROFILE) --backend $(TRAIN_BACKEND) \
	  $(if $(CUDA),--cuda) --batch-size $(EVAL_BATCH) --idioms $(IDIOMS) --strategy $(STRATEGY),ir,baseline
	$(TRAIN_ENV) $(TAILOR) report --out $(AUG_OUT) --profile $(PROFILE) $(if $(wildcard $(OUT)/tables/metrics.parquet),--beside $(OUT))
