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
