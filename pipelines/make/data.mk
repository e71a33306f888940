# Tokenizer and examples (issue 11): the byte-level BPE tokenizer trained on the train split and
# every split pair as token ids, at one of Methods2Test's focal-context levels. See docs/training.md,
# "Tokenizer and examples".
LEVEL         ?= FM_FC_MS_FF
MAX_INPUT     ?= 512
MAX_TARGET    ?= 256
VOCAB_SIZE    ?= 16384
MIN_FREQUENCY ?= 2
# Retrieved tests per input (issue 17): 0 plain, 1 the nearest other test of the same project
# appended behind </s></s> (the profile field data.retrieved).
RETRIEVED     ?= 0
# Real examples whose input and target texts `check-tokenizer` re-encodes in Python.
CHECK_EXAMPLES ?= 1000
# python.mk sets it too; prerequisites expand when read, and this file is read first.
VENV_HF       ?= .venv-hf

EXAMPLES_ARGS = --out $(OUT) --level $(LEVEL) --max-input $(MAX_INPUT) --max-target $(MAX_TARGET) \
  --vocab-size $(VOCAB_SIZE) --min-frequency $(MIN_FREQUENCY) --retrieved $(RETRIEVED)

.PHONY: examples check-tokenizer

examples: build ## Train the BPE tokenizer (OUT/tokenizer) and write OUT/tables/examples.parquet (after `make mine`; LEVEL, MAX_INPUT, MAX_TARGET, VOCAB_SIZE, RETRIEVED)
	$(TAILOR) examples $(EXAMPLES_ARGS)

check-tokenizer: build $(VENV_HF)/.installed ## Python tokenizers and transformers give tailor's ids on CHECK_EXAMPLES real inputs and targets
	$(TAILOR) examples $(EXAMPLES_ARGS) --dump-texts $(OUT)/tokenizer/check-texts.jsonl \
	  --dump-count $(CHECK_EXAMPLES)
	$(VENV_HF)/bin/python pipelines/python/check_tokenizer.py --tokenizer-dir $(OUT)/tokenizer \
	  --texts $(OUT)/tokenizer/check-texts.jsonl
