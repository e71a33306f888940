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

.PHONY: fixtures-hf setup-libtorch

$(VENV_HF)/.installed: pipelines/python/requirements-hf.txt
	test -x $(VENV_HF)/bin/python || $(PYTHON3) -m venv $(VENV_HF)
	$(VENV_HF)/bin/pip install -r $<
	touch $@

fixtures-hf: $(VENV_HF)/.installed ## Regenerate fixtures/hf-bart-tiny with transformers (needs PyPI)
	$(VENV_HF)/bin/python fixtures/hf-bart-tiny/make.py
