# Your own project (DESIGN "Your own project"; README "Use tailor on your own project"):
# adapt a repository outside the corpus, suggest tests for one of its methods, serve many
# projects from one base.
#
# adapt: REPO=<path or git URL> [NAME=<project name>] [ADAPT_STRATEGY=lora|prefix|l-ldb|custom|
# l-eo|auto] [BASE=<model folder>; default: the PROFILE's baseline]. Registers OUT/adapters/NAME.
# suggest: PROJECT=<name> JAVA=<file> METHOD=<name or name(Type,…)> [K=5] [WRITE=1].
# serve: BASE= (default the PROFILE's baseline) [PORT=8080].
# All four run on BACKEND=auto's choice (libtorch after `make setup-libtorch`, as `make finetune`
# does), so switching between them never rebuilds tailor.
# bench-serve: SERVE_CLIENTS= concurrent clients for SERVE_SECONDS= seconds over every registered
# project of BASE, mixed batching vs one project at a time.
REPO           ?=
NAME           ?=
ADAPT_STRATEGY ?=
PORT           ?= 8080
WRITE          ?=
SERVE_CLIENTS  ?= 8
SERVE_SECONDS  ?= 30

.PHONY: adapt suggest serve bench-serve

adapt: train-build ## Mine REPO=<path|git URL>, customize the PROFILE's baseline on it, register OUT/adapters/NAME (BACKEND=auto)
	@test -n "$(REPO)" || { echo "usage: make adapt REPO=<path or git URL> [NAME=<name>] [ADAPT_STRATEGY=lora|prefix|l-ldb|custom|auto] [PROFILE=cpu]"; exit 2; }
	$(TRAIN_ENV) $(TAILOR) adapt --out $(OUT) --profile $(PROFILE) --repo '$(REPO)' \
	  $(if $(NAME),--name $(NAME)) $(if $(ADAPT_STRATEGY),--strategy $(ADAPT_STRATEGY)) \
	  $(if $(BASE),--base $(BASE)) --backend $(TRAIN_BACKEND)

suggest: train-build ## Top-K tests for JAVA=<file> METHOD=<name> of registered PROJECT, generated and retrieved, ranked (WRITE=1 writes the best)
	@test -n "$(PROJECT)" -a -n "$(JAVA)" -a -n "$(METHOD)" || { echo "usage: make suggest PROJECT=<name> JAVA=<file> METHOD=<name> [K=5] [WRITE=1]"; exit 2; }
	$(TRAIN_ENV) $(TAILOR) suggest --out $(OUT) --project $(PROJECT) --java '$(JAVA)' --method '$(METHOD)' \
	  -k $(K) $(if $(WRITE),--write) --backend $(TRAIN_BACKEND)

serve: train-build ## HTTP/JSON suggestions for every project registered on BASE (default: PROFILE's baseline) on PORT=8080
	$(TRAIN_ENV) $(TAILOR) serve --out $(OUT) --profile $(PROFILE) $(if $(BASE),--base $(BASE)) --port $(PORT) \
	  --backend $(TRAIN_BACKEND)

bench-serve: train-build ## Load test of serve on 127.0.0.1: req/s, p50/p99 for k=1 and 5, mixed vs one project at a time
	$(TRAIN_ENV) $(TAILOR) bench-serve --out $(OUT) --profile $(PROFILE) $(if $(BASE),--base $(BASE)) \
	  --clients $(SERVE_CLIENTS) --seconds $(SERVE_SECONDS) --backend $(TRAIN_BACKEND)
