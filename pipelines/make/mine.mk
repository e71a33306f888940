# Mining benchmarks (see `tailor bench-mine --help`).
.PHONY: bench-mine

bench-mine: build ## Extraction speed (MB/s, files/s, ratio to pure tree-sitter parse), peak RSS, 1 and all threads, on OUT's mined projects
	$(TAILOR) bench-mine --out $(OUT)
