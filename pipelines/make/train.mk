# Training: the baseline test generator (issue 11). Profiles are pipelines/train/*.toml
# (smoke, cpu, paper); every field can be overridden with SET="train.lr=3e-4 data.level=FM".
#
# BACKEND=auto (the default here) takes libtorch (`tch`) when `make setup-libtorch` has been run
# and the pure-Rust `flex` otherwise, and says which and why; BACKEND=flex|tch forces one.
PROFILE  ?= cpu
SET      ?=
SAMPLES  ?= 5
CUDA     ?=
PEAK_TFLOPS ?=

TCH_READY     := $(wildcard $(TCH_ENV_FILE))
TRAIN_BACKEND := $(if $(filter auto,$(BACKEND)),$(if $(TCH_READY),tch,flex),$(BACKEND))
TRAIN_WHY     := $(if $(filter auto,$(BACKEND)),$(if $(TCH_READY),$(TCH_ENV_FILE) exists (make setup-libtorch ran),$(TCH_ENV_FILE) not found: run 'make setup-libtorch' for the 2-3x faster libtorch backend),BACKEND=$(BACKEND) was asked for)
# Building and running with libtorch needs its environment and the `tch` feature.
TRAIN_ENV      = $(if $(filter tch,$(TRAIN_BACKEND)),. $(TCH_ENV_FILE) &&,)
TRAIN_FEATURES = $(if $(filter tch,$(TRAIN_BACKEND)),--features tch,)
TRAIN_ARGS     = --out $(OUT) --profile $(PROFILE) --backend $(TRAIN_BACKEND) \
  $(foreach s,$(SET),--set $(s)) $(if $(CUDA),--cuda) $(if $(PEAK_TFLOPS),--peak-tflops $(PEAK_TFLOPS))

.PHONY: baseline train-build

train-build:
	@echo "backend: $(TRAIN_BACKEND) ($(TRAIN_WHY))"
	$(TRAIN_ENV) $(CARGO) build --bin tailor $(TRAIN_FEATURES)

baseline: train-build ## Train the baseline test generator (PROFILE=cpu|smoke|paper, BACKEND=auto|flex|tch, SET="k=v …"); resumable
	$(TRAIN_ENV) $(BENCH_ENV) $(TAILOR) baseline $(TRAIN_ARGS) --samples $(SAMPLES)

.PHONY: fixtures-train
fixtures-train: $(VENV_HF)/.installed ## Regenerate fixtures/train-corpus and pipelines/corpora/train-fixtures.csv (deterministic)
	$(VENV_HF)/bin/pip install -q xxhash==4.1.0
	$(VENV_HF)/bin/python fixtures/train-corpus/make.py

# Customization (issue 12): STRATEGY=custom|l-eo|l-ldb|prefix|lora|all (comma lists too),
# PROJECTS=id,id (default: the profile's, else Table 2's targets), FOLDS=0,1 (default: the
# profile's). The baseline and examples are built first when missing.
FOLDS ?=
.PHONY: finetune
finetune: train-build ## Customize the baseline per target and fold (STRATEGY=all|l-ldb|…, PROJECTS=, FOLDS=, PROFILE=, BACKEND=)
	$(TRAIN_ENV) $(BENCH_ENV) $(TAILOR) finetune $(TRAIN_ARGS) --strategy $(STRATEGY) \
	  $(if $(PROJECTS),--projects $(PROJECTS)) $(if $(FOLDS),--folds $(FOLDS))

# Benchmarks of the training loop on real batches (after `make examples` or `make baseline`):
# every compiled backend (FEATURES=tch adds libtorch), each strategy's bare step with its FLOPs,
# the loop's marginal step, and the PyTorch peer when .venv-hf exists.
BENCH_TRAIN_ARGS ?=
.PHONY: bench-train bench-finetune bench-mixed
bench-train: $(if $(findstring tch,$(FEATURES)),check-tch-env) ## Training loop tokens/s on real batches per backend, vs the bare step and PyTorch
	$(TCH_ENV) $(CARGO) build --bin tailor $(if $(FEATURES),--features $(FEATURES))
	$(TCH_ENV) $(BENCH_ENV) $(TAILOR) bench-train --out $(OUT) --profile $(PROFILE) \
	  $(if $(PYTORCH_PYTHON),--pytorch-python $(PYTORCH_PYTHON)) $(BENCH_TRAIN_ARGS)

bench-finetune: $(if $(findstring tch,$(FEATURES)),check-tch-env) ## Step time and FLOPs/step of every strategy on real batches (cheaper by accounting = cheaper measured)
	$(TCH_ENV) $(CARGO) build --bin tailor $(if $(FEATURES),--features $(FEATURES))
	$(TCH_ENV) $(BENCH_ENV) $(TAILOR) bench-train --out $(OUT) --profile $(PROFILE) --strategies all --no-loop $(BENCH_TRAIN_ARGS)

# One base, many projects (after `make finetune STRATEGY=prefix,lora` or all): the sweep's prefix
# and LoRA adapters serve interleaved requests, one project at a time vs in mixed batches.
MIXED_ARGS ?=
bench-mixed: train-build ## Requests/s of batches mixing projects' prefix/LoRA adapters vs one project at a time (PROFILE=, MIXED_ARGS=)
	$(TRAIN_ENV) $(BENCH_ENV) $(TAILOR) bench-mixed --out $(OUT) --profile $(PROFILE) --backend $(TRAIN_BACKEND) \
	  $(if $(CUDA),--cuda) $(MIXED_ARGS)

# The whole training stack on the training fixtures, offline, in a few minutes: mine them into
# SMOKE_OUT, train the smoke baseline, customize with every strategy, evaluate, report.
SMOKE_OUT ?= out/smoke
.PHONY: smoke
smoke: ## mine → baseline → finetune (all strategies) → evaluate → report on the training fixtures (PROFILE=smoke, OUT=out/smoke)
	$(MAKE) mine CORPUS=pipelines/corpora/train-fixtures.csv OUT=$(SMOKE_OUT) JOBS=2
	$(MAKE) finetune STRATEGY=all PROFILE=smoke OUT=$(SMOKE_OUT)
	$(MAKE) evaluate PROFILE=smoke OUT=$(SMOKE_OUT)
	$(MAKE) report PROFILE=smoke OUT=$(SMOKE_OUT)
