# Vocabulary analysis (paper §2, Figure 1). See docs/vocabulary.md.
FIGURE1_CORPUS ?= pipelines/corpora/debian-java-all.csv
FIGURE1_N      ?= 930
FIGURE1_SEED   ?= 2022
# A separate output folder, so the 930-project tables and figure do not replace `make heatmap`'s;
# checkouts are shared through $(OUT)/cache.
OUT930         ?= $(OUT)/figure1-930
# Comma-separated project counts for bench-heatmap (empty: 100,930,5000,20000).
SIZES          ?=

.PHONY: heatmap bench-heatmap figure1-930

heatmap: build ## Token sets, shared-token matrix, vocab tables and Figure 1 from OUT/tables/projects.parquet (after `make mine`)
	$(TAILOR) heatmap --out $(OUT)

bench-heatmap: build ## Shared-token matrix on synthetic Zipf corpora (SIZES=100,930,5000,20000): time, peak RSS, growth exponent
	$(TAILOR) bench-heatmap $(if $(SIZES),--sizes $(SIZES))

figure1-930: build ## Acquire FIGURE1_CORPUS (resumable), then Figure 1 for a seeded sample of 930 projects with Java into OUT930
	$(TAILOR) acquire --corpus $(FIGURE1_CORPUS) --cache $(OUT)/cache --jobs $(JOBS) --out $(OUT930)
	$(TAILOR) heatmap --out $(OUT930) --limit $(FIGURE1_N) --seed $(FIGURE1_SEED)
