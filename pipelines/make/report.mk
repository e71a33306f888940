# Evaluation and reports (issue 13): `make evaluate` generates (beam search, 5 beams, 5 returned)
# for every finished customization run of PROFILE and scores it; `make report` writes Tables 1, 3,
# 4, Figures 3, 4, 5 and results.md from those tables; `make notebooks` executes the notebooks
# headless against a smoke run. PROFILE, BACKEND, CUDA, OUT as for `make baseline`/`finetune`
# (train.mk: BACKEND=auto takes libtorch when `make setup-libtorch` ran).
MAX_TEST   ?=
EVAL_BATCH ?= 8
# Prefix/LoRA runs evaluated together in batches mixing their adapters (1 or empty: one at a time).
MIX ?=
IDIOMS     ?= 200

.PHONY: evaluate report notebooks

evaluate: train-build ## Beam search over every finished run's test part and its metrics (PROFILE=, BACKEND=, MAX_TEST=N, EVAL_BATCH=, MIX=N, STRATEGY=); resumable
	$(TRAIN_ENV) $(TAILOR) evaluate --out $(OUT) --profile $(PROFILE) --backend $(TRAIN_BACKEND) \
	  $(if $(CUDA),--cuda) $(if $(MAX_TEST),--max-test $(MAX_TEST)) --batch-size $(EVAL_BATCH) --idioms $(IDIOMS) \
	  $(if $(MIX),--mix-adapters $(MIX)) --strategy $(if $(STRATEGY),$(STRATEGY),all),baseline

report: train-build ## Tables 1, 3, 4, Figures 3, 4, 5 and results.md under OUT/reports and OUT/figures (PROFILE=; BESIDE=<another OUT> adds its runs side by side)
	$(TRAIN_ENV) $(TAILOR) report --out $(OUT) --profile $(PROFILE) $(if $(BESIDE),--beside $(BESIDE))

# The notebooks run against a smoke run of the training fixtures in NB_OUT, made first when it is
# missing (a few minutes on 2 cores), in the local venv `.venv-nb`.
VENV_NB    ?= .venv-nb
NB_OUT     ?= out/smoke
NB_PROFILE ?= smoke
NOTEBOOKS  ?= notebooks/evaluation.ipynb notebooks/training_runs.ipynb

$(VENV_NB)/.installed: pipelines/python/requirements-nb.txt
	test -x $(VENV_NB)/bin/python || $(PYTHON3) -m venv $(VENV_NB)
	$(VENV_NB)/bin/pip install -q -r $<
	touch $@

$(NB_OUT)/tables/metrics.parquet:
	$(MAKE) mine CORPUS=pipelines/corpora/train-fixtures.csv OUT=$(NB_OUT) JOBS=2
	$(MAKE) finetune STRATEGY=all PROFILE=$(NB_PROFILE) OUT=$(NB_OUT) BACKEND=flex
	$(MAKE) evaluate PROFILE=$(NB_PROFILE) OUT=$(NB_OUT) BACKEND=flex
	$(MAKE) report PROFILE=$(NB_PROFILE) OUT=$(NB_OUT) BACKEND=flex

notebooks: $(VENV_NB)/.installed $(NB_OUT)/tables/metrics.parquet ## Execute the notebooks headless against a smoke run (NB_OUT=out/smoke); fails on any cell error
	$(VENV_NB)/bin/python notebooks/run_notebooks.py --out $(NB_OUT) --profile $(NB_PROFILE) $(NOTEBOOKS)
