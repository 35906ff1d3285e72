# make demo   bring up the all-in-one lab and sync a few objects, end to end
# make test   install everything (venv + Debian packages) and run the whole suite
# make bench  the benchmarks (bench/README.md)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv deps demo demo-stop test unit integration deploy-test lint bench clean

venv: $(STAMP)

$(STAMP): setup.py requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e . -r requirements-dev.txt
	touch $(STAMP)

deps:
	scripts/install-system-deps

demo: deps venv
	$(PY) -m onespace.demo

demo-stop: venv
	$(PY) -m onespace.demo --stop

test: deps venv
	$(PY) -m pytest tests
	tests/deploy/lint
	tests/deploy/run-molecule default cluster

lint: venv
	tests/deploy/lint

# Molecule on real systemd: systemd-nspawn guests booted from a cached debootstrap rootfs
# (default: one all-in-one guest; cluster: three air-gapped guests with their own addresses)
deploy-test: venv
	tests/deploy/run-molecule default cluster

unit: venv
	$(PY) -m pytest tests/unit

integration: deps venv
	$(PY) -m pytest tests/integration

bench: deps venv
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .lab .lab-test build *.egg-info
