# The Python reference side: the HuggingFace parity fixture, the PyTorch peer benchmark, libtorch
# for the `tch` feature and the Methods2Test reference comparison. Everything lives in local
# throwaway venvs at the repository root (`.venv-hf`, `.venv-torch`, `.venv-m2t`, git-ignored);
# nothing touches the system Python. See docs/python.md.
PYTHON3    ?= python3
VENV_HF    ?= .venv-hf
VENV_TORCH ?= .venv-torch
VENV_M2T   ?= .venv-m2t
# burn-tch 0.22 pins tch 0.22, built for libtorch 2.9; 2.11 is the lent GPU machine's version and
# works with LIBTORCH_BYPASS_VERSION_CHECK=1 (see docs/training.md, "Backends"). Same version as .venv-hf, so pip
# reuses the downloaded wheel.
TORCH_VERSION ?= 2.11.0

# The PyTorch peer of `tailor bench-model` (pipelines/python/bench_bart_step.py): the `small`
# preset's shape as a HuggingFace config, one batch shape, intra-op threads.
PEER_CONFIG  ?= pipelines/python/bart-small.json
PEER_BATCH   ?= 8
PEER_SRC     ?= 128
PEER_TGT     ?= 64
PEER_STEPS   ?= 5
PEER_THREADS ?= 2

# Methods2Test comparison: M2T = a clone of microsoft/methods2test, PROJECT = a Java project
# folder. By default tailor mines PROJECT alone into OUT/m2t/<name>/tailor; with
# M2T_OURS=<pairs.parquet> (and M2T_PROJECT_ID=<its project_id>) an existing table is used.
M2T            ?=
M2T_NAME       := $(notdir $(abspath $(PROJECT)))
M2T_DIR         = $(OUT)/m2t/$(M2T_NAME)
M2T_OURS       ?=
M2T_PROJECT_ID ?= $(M2T_NAME)

# check-hf-export: a checkpoint folder tailor saved (config.json + model.safetensors).
MODEL_DIR ?=

.PHONY: fixtures-hf fixtures-hf-act check-hf-export bench-model-peer setup-libtorch m2t-compare m2t-reference

$(VENV_HF)/.installed: pipelines/python/requirements-hf.txt
	test -x $(VENV_HF)/bin/python || $(PYTHON3) -m venv $(VENV_HF)
	$(VENV_HF)/bin/pip install -r $<
	touch $@

fixtures-hf: $(VENV_HF)/.installed ## Regenerate fixtures/hf-bart-tiny with transformers (needs PyPI)
	$(VENV_HF)/bin/python fixtures/hf-bart-tiny/make.py

fixtures-hf-act: $(VENV_HF)/.installed ## Regenerate fixtures/hf-bart-act (one BART per supported activation) with transformers
	$(VENV_HF)/bin/python fixtures/hf-bart-act/make.py

check-hf-export: $(VENV_HF)/.installed build ## Load MODEL_DIR in transformers/tokenizers: a trained folder (with tokenizer.json) on OUT's real examples, else the fixture export
	@test -n "$(MODEL_DIR)" || { echo "usage: make $@ MODEL_DIR=<folder with config.json and model.safetensors> [OUT=out]"; exit 2; }
	if [ -f "$(MODEL_DIR)/tokenizer.json" ]; then \
	  $(TAILOR) export-check --model $(MODEL_DIR) --out $(OUT) --dump $(OUT)/check-hf-export && \
	  $(VENV_HF)/bin/python pipelines/python/check_model_dir.py --model-dir $(MODEL_DIR) --dump $(OUT)/check-hf-export; \
	else \
	  $(VENV_HF)/bin/python pipelines/python/check_hf_export.py --model-dir $(MODEL_DIR); \
	fi

bench-model-peer: $(VENV_HF)/.installed ## PyTorch training-step and beam-5 throughput (JSON lines)
	$(VENV_HF)/bin/python pipelines/python/bench_bart_step.py --preset-config $(PEER_CONFIG) \
	  --batch $(PEER_BATCH) --src-len $(PEER_SRC) --tgt-len $(PEER_TGT) --steps $(PEER_STEPS) \
	  --threads $(PEER_THREADS)
	$(VENV_HF)/bin/python pipelines/python/bench_bart_step.py --preset-config $(PEER_CONFIG) \
	  --batch $(PEER_BATCH) --src-len $(PEER_SRC) --tgt-len $(PEER_TGT) --steps 2 --warmup 1 \
	  --threads $(PEER_THREADS) --beam --num-beams 5

setup-libtorch: ## Local venv with the torch wheel for --features tch; prints the env to source
	pipelines/python/setup-libtorch.sh $(VENV_TORCH) $(TORCH_VERSION) $(PYTHON3)

$(VENV_M2T)/.installed: pipelines/python/requirements-m2t.txt
	test -x $(VENV_M2T)/bin/python || $(PYTHON3) -m venv $(VENV_M2T)
	$(VENV_M2T)/bin/pip install -r $<
	touch $@

m2t-reference: $(VENV_M2T)/.installed ## Methods2Test's pairs for PROJECT (M2T=clone) as OUT/m2t/<name>/theirs.csv
	@test -n "$(M2T)" -a -n "$(PROJECT)" || { echo "usage: make $@ M2T=<methods2test clone> PROJECT=<java project folder>"; exit 2; }
	mkdir -p $(M2T_DIR)
	PYTHONUTF8=1 $(VENV_M2T)/bin/python pipelines/python/m2t_reference.py \
	  --m2t $(M2T) --project $(PROJECT) --out $(M2T_DIR)/theirs.csv

m2t-compare: m2t-reference $(if $(M2T_OURS),,build) ## Compare Methods2Test's pairs with tailor's on PROJECT (M2T=clone)
ifeq ($(M2T_OURS),)
	printf 'id,name,source,revision,stars\n%s,%s,%s,,\n' "$(M2T_NAME)" "$(M2T_NAME)" "$(abspath $(PROJECT))" \
	  > $(M2T_DIR)/corpus.csv
	$(TAILOR) mine --corpus $(M2T_DIR)/corpus.csv --out $(M2T_DIR)/tailor --jobs 1 --strict
endif
	$(VENV_M2T)/bin/python pipelines/python/compare_pairs.py --theirs $(M2T_DIR)/theirs.csv \
	  --ours $(or $(M2T_OURS),$(M2T_DIR)/tailor/tables/pairs.parquet) \
	  --project-id $(M2T_PROJECT_ID) --json $(M2T_DIR)/compare.json
