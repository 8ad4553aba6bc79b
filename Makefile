# Two entry points: `make run` (the whole pipeline on the embedded default) and `make test`.
# Both create .venv and install what they need; the install is skipped while pyproject.toml is unchanged.
# `make run` installs the project; `make test` (and `make install`) also the dev extra: the test tools and Ray.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEV_INSTALLED := $(VENV)/.installed-dev
REALDEV ?= ../shared/realdev

.PHONY: install run test clean

install: $(DEV_INSTALLED)

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e .
	touch $@

# the dev install holds the project's install too
$(DEV_INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@ $(INSTALLED)

# papers -> sentences -> weak labels -> base model -> fine-tuned model -> evaluation -> ONNX -> predictions -> map
run: $(INSTALLED)
	$(BIN)/pcc prepare
	$(BIN)/pcc label
	$(BIN)/pcc base-model
	$(BIN)/pcc train
	$(BIN)/pcc evaluate --append reports/context_ablation.md
	$(BIN)/pcc evaluate --gold data/gold/outside_corpus.jsonl --report reports/evaluation_outside_corpus.md
	$(BIN)/pcc prepare data/wild --out-dir data/processed/wild
	$(BIN)/pcc evaluate --gold data/gold/wild.jsonl --sentences data/processed/wild/sentences.jsonl \
	    --report reports/evaluation_wild.md
	# real web pages with gold labels, where the project's shared folder holds them (their text stays out of reports)
	if [ -d $(REALDEV) ]; then $(BIN)/pcc evaluate --papers $(REALDEV)/pages --gold $(REALDEV)/gold.jsonl \
	    --report reports/evaluation_realdev.md --without-text; fi
	$(BIN)/pcc export
	$(BIN)/pcc predict data/raw
	$(BIN)/pcc predict data/extra --out reports/predictions_extra.jsonl
	# the corpus map of the seed corpus and the extra papers (reports/corpus_map/ holds its page, themes, assignments)
	$(BIN)/pcc map reports/predictions.jsonl reports/predictions_extra.jsonl --out reports/corpus_map \
	    --summary reports/corpus_map.md

test: $(DEV_INSTALLED)
	$(BIN)/python -m pytest

# Generated data and models; reports/ is kept (it holds committed measurements).
clean:
	rm -rf data/processed models/base models/run-* models/latest
