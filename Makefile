# Two entry points: `make run` (the whole pipeline on the embedded default) and `make test`.
# Both create .venv and install what they need; the install is skipped while pyproject.toml is unchanged.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run test clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

run: $(INSTALLED)
	$(BIN)/pcc prepare

test: $(INSTALLED)
	$(BIN)/python -m pytest

clean:
	rm -rf data/processed reports/*.md reports/*.png
