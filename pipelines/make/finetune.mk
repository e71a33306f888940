# Per-project customization: adapters and their checks against HF PEFT.
#
# check-peft: a LoRA adapter written by tailor must load with `peft.PeftModel.from_pretrained` on
# the base model in `transformers` and give tailor's logits within 1e-5
# (pipelines/python/check_peft.py). Without BASE/ADAPTER/INPUTS it first makes its own case in
# PEFT_DIR: a `tiny` base, a LoRA adapter with random non-zero A and B, and a batch with the
# logits tailor computes for it (the `strategies` test `lora_adapters_are_also_written_in_peft_layout`).
# For another adapter: INPUTS from `tailor model logits --model BASE --adapter ADAPTER
# --input-ids "0 5 6 2" --out FILE.safetensors`.
VENV_HF  ?= .venv-hf
PEFT_DIR ?= $(OUT)/check-peft
BASE     ?=
ADAPTER  ?=
INPUTS   ?=

.PHONY: check-peft

check-peft: $(VENV_HF)/.installed ## A tailor LoRA adapter loads in PEFT with equal logits (BASE=, ADAPTER=, INPUTS=; default: a tiny case)
ifeq ($(BASE)$(ADAPTER)$(INPUTS),)
	rm -rf $(PEFT_DIR) && mkdir -p $(PEFT_DIR)
	TAILOR_PEFT_FIXTURE=$(abspath $(PEFT_DIR)) $(CARGO) test --test suite \
	  strategies::lora_adapters_are_also_written_in_peft_layout -- --exact
	$(VENV_HF)/bin/python pipelines/python/check_peft.py --base $(PEFT_DIR)/base \
	  --adapter $(PEFT_DIR)/adapter --inputs $(PEFT_DIR)/inputs.safetensors
else
	@test -n "$(BASE)" -a -n "$(ADAPTER)" -a -n "$(INPUTS)" || { echo "usage: make $@ BASE=<model folder> ADAPTER=<adapter folder> INPUTS=<safetensors from tailor model logits>"; exit 2; }
	$(VENV_HF)/bin/python pipelines/python/check_peft.py --base $(BASE) --adapter $(ADAPTER) --inputs $(INPUTS)
endif
