# Everything a fresh machine with only Python needs: `make demo`, `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
LOGDIR ?= runs
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install demo test bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The demo run is rebuilt from scratch each time (train refuses to mix runs).
demo: $(STAMP)
	rm -rf $(LOGDIR)/demo
	$(PY) -m projector_tools.cli train --dataset demo --logdir $(LOGDIR)/demo
	@echo ""
	@echo "Now run:  $(VENV)/bin/tensorboard --logdir $(LOGDIR)/demo"
	@echo "and open http://localhost:6006/#projector (tensor 'embedding': color by 'positivity'; tensor 'reviews': color by 'label' or 'correct')."

# tests/ and the package's doctests (setup.cfg: testpaths, --doctest-modules), one pytest run.
test: $(STAMP)
	$(PY) -m pytest -q -ra

bench: $(STAMP)
	$(PY) bench/export.py
	$(PY) bench/export.py --rows 1000000 --dims 300 --methods ours,npsave,tutorial --repeat 5 --out bench/results/export_1m.json
	$(PY) bench/export.py --rows 1000000 --dims 300 --methods ours,npsave --repeat 5 --warm --out bench/results/export_1m_warm.json
	$(PY) bench/load.py
	$(PY) bench/parse.py
	$(PY) bench/train.py
	$(PY) bench/vocab.py
	$(PY) bench/layout.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
