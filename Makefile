# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN = $(VENV)/bin
DEMO ?= demo
JOBS ?= 2

.PHONY: demo test lint benchmarks clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(BIN)/.installed
	@start=$$(date +%s); \
	$(BIN)/emo synth $(DEMO)/data --actors 6 --takes 3 --test-actors 1 --seed 0 --overwrite && \
	$(BIN)/emo extract $(DEMO)/data --cache $(DEMO)/cache -j $(JOBS) && \
	$(BIN)/emo fit $(DEMO)/data --cache $(DEMO)/cache -j $(JOBS) -o $(DEMO)/model && \
	$(BIN)/emo submit $(DEMO)/model $(DEMO)/data --phase test --cache $(DEMO)/cache \
		-o $(DEMO)/submission.zip && \
	echo "demo finished in $$(( $$(date +%s) - start )) s; submission: $(DEMO)/submission.zip"

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check .

benchmarks: $(BIN)/.installed
	for b in benchmarks/[!_]*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(DEMO) cache
