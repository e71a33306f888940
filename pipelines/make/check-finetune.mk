# check-finetune (issue 18): re-train one customization run of `make finetune` in PyTorch +
# transformers (+ PEFT for LoRA) from the same base folder, fold file, token ids and recipe, and
# compare its test loss with tailor's row of OUT/tables/finetune.parquet
# (pipelines/python/check_finetune.py; tolerance and measured spread in docs/check-finetune.md).
# The run must exist: `make finetune PROFILE=… STRATEGY=… PROJECTS=… FOLDS=…` first.
#
# PROFILE (train.mk, default cpu) and STRATEGY (Makefile, default all) are shared with the other
# targets: STRATEGY=all here means custom,l-eo,l-ldb,prefix,lora one after the other.
# PROJECT: the target project (default: the first project folder of the profile's finetune runs).
# SEEDS: PyTorch seeds to re-train with (default 0); several (`SEEDS="0 1 2"`) also give the
# run-to-run spread. CHECK_ORDER=tailor (tailor's exact batch order) or shuffled.
VENV_HF           ?= .venv-hf
PROFILE           ?= cpu
FOLD              ?= 0
PROJECT           ?= $(firstword $(notdir $(wildcard $(OUT)/runs/finetune/$(PROFILE)/*)))
SEEDS             ?= 0
CHECK_ORDER       ?= tailor
CHECK_TOLERANCE   ?= 0.05
CHECK_FINETUNE_ARGS ?=
# The examples and finetune tables are parquet: pyarrow reads them (not in requirements-hf.txt).
PYARROW_VERSION   ?= 25.0.1

CHECK_STRATEGIES = $(if $(filter all,$(STRATEGY)),custom l-eo l-ldb prefix lora,$(subst $(comma), ,$(STRATEGY)))

.PHONY: check-finetune

$(VENV_HF)/.pyarrow: $(VENV_HF)/.installed
	$(VENV_HF)/bin/pip install -q pyarrow==$(PYARROW_VERSION)
	touch $@

check-finetune: $(VENV_HF)/.installed $(VENV_HF)/.pyarrow ## Re-train a finetune run in PyTorch/transformers/PEFT and compare test losses (PROFILE=, PROJECT=, FOLD=0, STRATEGY=, SEEDS=0, CHECK_TOLERANCE=0.05)
	@test -n "$(PROJECT)" || { echo "usage: make $@ PROJECT=<project id> [PROFILE=$(PROFILE)] [FOLD=0] [STRATEGY=custom] (no finetune runs under $(OUT)/runs/finetune/$(PROFILE))"; exit 2; }
	@status=0; for strategy in $(CHECK_STRATEGIES); do for seed in $(SEEDS); do \
	  $(VENV_HF)/bin/python pipelines/python/check_finetune.py --out $(OUT) --profile $(PROFILE) \
	    --project $(PROJECT) --fold $(FOLD) --strategy $$strategy --seed $$seed --order $(CHECK_ORDER) \
	    --tolerance $(CHECK_TOLERANCE) --tailor-row $(CHECK_FINETUNE_ARGS) || status=1; \
	done; done; exit $$status
