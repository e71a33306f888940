# The evaluation metrics (src/metrics/): their reference values and their benchmark.
# fixtures-metrics recomputes fixtures/metrics/expected.json with the reference implementations
# (sacrebleu, CodeXGLUE's bleu.py, scikit-learn, SciPy) in the references venv of python.mk;
# tests/suite/metrics.rs holds the Rust metrics to it. Commit the regenerated file.
METRICS_INPUTS   ?= fixtures/metrics/inputs.json
METRICS_EXPECTED ?= fixtures/metrics/expected.json
# The bench reuses the dev build every other target shares (dependencies at opt-level 3, tailor
# at 1), so it costs no release build of polars and burn; METRICS_BENCH_PROFILE=release measures
# tailor's code fully optimised.
METRICS_BENCH_PROFILE ?= dev

.PHONY: fixtures-metrics bench-metrics

fixtures-metrics: $(VENV_HF)/.installed ## Regenerate fixtures/metrics/expected.json with sacrebleu, CodeXGLUE, sklearn, scipy (needs PyPI)
	$(VENV_HF)/bin/python pipelines/python/metrics_reference.py $(METRICS_INPUTS) $(METRICS_EXPECTED)

bench-metrics: ## Throughput of BLEU, abstraction, tf-idf and validity on the fixture pairs (criterion)
	$(CARGO) bench --bench metrics --profile $(METRICS_BENCH_PROFILE)

.PHONY: style-documents
style-documents: ## Print the identifier documents of fixtures/metrics/inputs.json (review, then update its style_documents)
	$(CARGO) run --example style_documents -- $(METRICS_INPUTS)
