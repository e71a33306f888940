# BART model targets: parameter counts, benchmarks, and the model tests on libtorch.
# `make setup-libtorch` (python.mk) prepares $(VENV_TORCH) and its tailor-tch.env, which sets
# LIBTORCH_USE_PYTORCH=1, LIBTORCH_BYPASS_VERSION_CHECK=1, VIRTUAL_ENV, PATH and LD_LIBRARY_PATH
# for building and running with `--features tch`.
VENV_TORCH     ?= .venv-torch
VENV_HF        ?= .venv-hf
TCH_ENV_FILE   ?= $(VENV_TORCH)/tailor-tch.env
# The PyTorch peer of bench-model (pipelines/python/bench_bart_step.py) runs in the HF venv when
# it exists (`make fixtures-hf` or `make bench-model-peer` creates it).
PYTORCH_PYTHON ?= $(wildcard $(VENV_HF)/bin/python)
BENCH_MODEL_ARGS ?= --repeats 2
# mimalloc returns freed arena memory to the OS after 10 ms by default; a training step frees
# and re-allocates ~2 GiB of activations, so every step re-faults (and the kernel re-zeroes)
# them: 30% of a `small` flex step in perf. Never purging measured 1.0-1.5x faster.
BENCH_ENV ?= MIMALLOC_PURGE_DELAY=-1
# Commands that build or run with libtorch need its environment first.
TCH_ENV = $(if $(filter tch,$(subst $(comma), ,$(FEATURES))),. $(TCH_ENV_FILE) &&,)
comma := ,

.PHONY: model-info bench-model test-tch check-tch-env

model-info: build ## Parameters per group and the paper's Table 1 for PRESET
	$(TAILOR) model info --preset $(PRESET)

check-tch-env:
	@test -f $(TCH_ENV_FILE) || { echo "$(TCH_ENV_FILE) not found: run 'make setup-libtorch' first" >&2; exit 1; }

# FEATURES=tch adds the libtorch backend (flex stays compiled): every compiled backend is measured.
bench-model: $(if $(findstring tch,$(FEATURES)),check-tch-env) ## Train-step and beam-5 tokens/s of PRESET per backend, vs PyTorch when .venv-hf exists
	$(TCH_ENV) $(CARGO) build --bin tailor $(if $(FEATURES),--features $(FEATURES))
	$(TCH_ENV) $(BENCH_ENV) $(TAILOR) bench-model --preset $(PRESET) \
	  $(if $(PYTORCH_PYTHON),--pytorch-python $(PYTORCH_PYTHON)) $(BENCH_MODEL_ARGS)

test-tch: check-tch-env ## The model tests (HF parity, generation, round trip) on the libtorch backend
	. $(TCH_ENV_FILE) && TAILOR_TEST_BACKEND=tch $(CARGO) test --features tch --test suite -- model:: model_activations::
