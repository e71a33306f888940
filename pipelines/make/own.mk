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

.PHONY: adapt suggest serve bench-serve example-repo adapt-example

# A real repository that is not in the default corpus, for trying adapt/suggest/serve: a Debian
# source package's upstream tarball (pinned by URL and SHA-256, from the trixie Sources index;
# the default corpus pins bookworm and does not hold byte-buddy), unpacked into OUT/examples/NAME
# as a one-commit git repository, as a developer's checkout would be.
EXAMPLE_NAME   ?= byte-buddy
EXAMPLE_URL    ?= http://deb.debian.org/debian/pool/main/b/byte-buddy/byte-buddy_1.14.19.orig.tar.xz
EXAMPLE_SHA256 ?= e2ed777f70cfb673ef64d2839f984a20cc85e5b58c1cd2d8741e73b346c5fbb8
EXAMPLE_DIR    := $(OUT)/examples/$(EXAMPLE_NAME)

example-repo: ## Fetch EXAMPLE_URL (default: byte-buddy 1.14.19, not in the corpus), check its SHA-256, unpack it into OUT/examples/EXAMPLE_NAME as a git repository
	@if test -d $(EXAMPLE_DIR)/.git; then echo "$(EXAMPLE_DIR): already there"; else \
	  set -e; archive=$(OUT)/cache/examples/$$(basename '$(EXAMPLE_URL)'); mkdir -p $$(dirname $$archive); \
	  if ! test -f $$archive; then curl -fsSL --retry 3 -o $$archive.part '$(EXAMPLE_URL)' || { echo "$(EXAMPLE_URL): download failed"; exit 1; }; mv $$archive.part $$archive; fi; \
	  echo "$(EXAMPLE_SHA256)  $$archive" | sha256sum -c --quiet - || { echo "$$archive: SHA-256 differs from EXAMPLE_SHA256 (a different or broken download); delete it and retry"; exit 1; }; \
	  rm -rf $(EXAMPLE_DIR).part && mkdir -p $(EXAMPLE_DIR).part && tar -xf $$archive -C $(EXAMPLE_DIR).part --strip-components=1; \
	  git -C $(EXAMPLE_DIR).part init -q && git -C $(EXAMPLE_DIR).part add -A && \
	  GIT_AUTHOR_DATE=2000-01-01T00:00:00Z GIT_COMMITTER_DATE=2000-01-01T00:00:00Z \
	  git -C $(EXAMPLE_DIR).part -c user.name=tailor -c user.email=tailor@localhost commit -q -m "$$(basename '$(EXAMPLE_URL)')"; \
	  mv $(EXAMPLE_DIR).part $(EXAMPLE_DIR); echo "$(EXAMPLE_DIR): $$(git -C $(EXAMPLE_DIR) ls-files | wc -l) files"; fi

adapt-example: example-repo ## make example-repo, then make adapt on it (NAME=EXAMPLE_NAME)
	$(MAKE) adapt REPO=$(EXAMPLE_DIR) NAME=$(EXAMPLE_NAME)

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
