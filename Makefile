# The two commands of the README: `make demo` and `make test`.
# PYTHON: the newest CPython >= 3.11 found on PATH or in pyenv (.ci/find-python); override it
# with `make PYTHON=/path/to/python3.x`. It only matters when the venv is made.
PYTHON ?= $(shell .ci/find-python newest)
VENV ?= .venv
BIN = $(VENV)/bin
DEMO ?= demo
JOBS ?= 2
# `make smoke`: a non-editable install on the oldest supported Python, then the demo's flow
SMOKE ?= smoke
SMOKE_PYTHON ?= $(shell .ci/find-python oldest)
REQUIRE_311 = import sys; sys.exit(sys.version_info < (3, 11))

.PHONY: demo test smoke lint benchmarks clean

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || { py="$(PYTHON)"; test -n "$$py" || exit 1; \
		"$$py" -c "$(REQUIRE_311)" || { echo "emo needs Python >= 3.11, and $$py is not one" >&2; exit 1; }; \
		echo "$$py -m venv $(VENV)"; "$$py" -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip check
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

smoke:
	@py="$(SMOKE_PYTHON)"; test -n "$$py" || exit 1; \
		"$$py" -c "$(REQUIRE_311)" || { echo "emo needs Python >= 3.11, and $$py is not one" >&2; exit 1; }; \
		rm -rf $(SMOKE); echo "$$py -m venv $(SMOKE)/venv"; "$$py" -m venv $(SMOKE)/venv
	$(SMOKE)/venv/bin/python -m pip install --quiet --upgrade pip
	$(SMOKE)/venv/bin/python -m pip install --quiet .
	$(SMOKE)/venv/bin/python -m pip check
	$(SMOKE)/venv/bin/emo synth $(SMOKE)/data --actors 3 --takes 2 --test-actors 1 --seed 0
	$(SMOKE)/venv/bin/emo extract $(SMOKE)/data --cache $(SMOKE)/cache -j $(JOBS)
	$(SMOKE)/venv/bin/emo fit $(SMOKE)/data --cache $(SMOKE)/cache -j $(JOBS) --folds 3 \
		-o $(SMOKE)/model
	$(SMOKE)/venv/bin/emo submit $(SMOKE)/model $(SMOKE)/data --phase test \
		--cache $(SMOKE)/cache -o $(SMOKE)/submission.zip
	$(SMOKE)/venv/bin/emo submit --check $(SMOKE)/submission.zip

lint: $(BIN)/.installed
	$(BIN)/ruff check .

benchmarks: $(BIN)/.installed
	for b in benchmarks/[!_]*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(DEMO) $(SMOKE) cache
