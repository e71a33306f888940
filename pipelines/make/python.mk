# The Python reference side: the HuggingFace parity fixture, the PyTorch peer benchmark, libtorch
# for the `tch` feature and the Methods2Test reference comparison. Everything lives in local
# throwaway venvs at the repository root (`.venv-hf`, `.venv-torch`, `.venv-m2t`, git-ignored);
# nothing touches the system Python. See docs/python.md.
PYTHON3    ?= python3
VENV_HF    ?= .venv-hf
VENV_TORCH ?= .venv-torch
VENV_M2T   ?= .venv-m2t
# burn-tch 0.22 pins tch 0.22, built for libtorch 2.9; 2.11 is the lent GPU machine's version and
# works with LIBTORCH_BYPASS_VERSION_CHECK=1 (see DESIGN.md). Same version as .venv-hf, so pip
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

.PHONY: fixtures-hf bench-model-peer setup-libtorch

$(VENV_HF)/.installed: pipelines/python/requirements-hf.txt
	test -x $(VENV_HF)/bin/python || $(PYTHON3) -m venv $(VENV_HF)
	$(VENV_HF)/bin/pip install -r $<
	touch $@

fixtures-hf: $(VENV_HF)/.installed ## Regenerate fixtures/hf-bart-tiny with transformers (needs PyPI)
	$(VENV_HF)/bin/python fixtures/hf-bart-tiny/make.py

bench-model-peer: $(VENV_HF)/.installed ## PyTorch training-step and beam-5 throughput (JSON lines)
	$(VENV_HF)/bin/python pipelines/python/bench_bart_step.py --preset-config $(PEER_CONFIG) \
	  --batch $(PEER_BATCH) --src-len $(PEER_SRC) --tgt-len $(PEER_TGT) --steps $(PEER_STEPS) \
	  --threads $(PEER_THREADS)
	$(VENV_HF)/bin/python pipelines/python/bench_bart_step.py --preset-config $(PEER_CONFIG) \
	  --batch $(PEER_BATCH) --src-len $(PEER_SRC) --tgt-len $(PEER_TGT) --steps 2 --warmup 1 \
	  --threads $(PEER_THREADS) --beam --num-beams 5

setup-libtorch: ## Local venv with the torch wheel for --features tch; prints the env to source
	pipelines/python/setup-libtorch.sh $(VENV_TORCH) $(TORCH_VERSION) $(PYTHON3)
