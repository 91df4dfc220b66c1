# Two commands matter: `make demo` and `make test`.  Both set up a virtual
# environment in .venv from pyproject.toml first (only Python 3.11 is needed).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit bench compiled test-compiled bench-live bench-emulate bench-ehr bench-ehr-live bench-network bench-dicom schema clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/testbed run scenarios/two-site-pilot.yaml --out runs/demo
	$(BIN)/python -m tests.browser.screenshot runs/demo/report.html runs/demo/report.png
	$(BIN)/python -m tests.browser.notebook_pages runs/demo notebooks/*.ipynb
	@echo "open runs/demo/report.html (a screenshot of it: runs/demo/report.png;"
	@echo "each notebook's outputs: runs/demo/NN_name.html and .png)"

lint: setup
	$(BIN)/ruff check testbed tests benchmarks notebooks conftest.py

typecheck: setup
	$(BIN)/mypy

# the suite runs in pytest-xdist workers, a test file per worker at a time (module
# fixtures are built once); more workers than cores, because many live tests wait on
# sockets, subprocesses and token lifetimes rather than on the processor
TEST_WORKERS ?= 3

test: setup lint typecheck
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile --junitxml=runs/junit.xml

# the simulation's scale benchmark, simulated DICOM against the access point, live
# mode's store (bench-live), the emulation of the designs in network namespaces
# (bench-emulate: root, ip, nft), the EHR path (bench-ehr), the network designs'
# analysis and sweeps (bench-network), the live DICOM acceptor (bench-dicom), live
# mode's IdP and FHIR API (bench-ehr-live)
bench: setup
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.dicom_sim
	$(BIN)/python -m benchmarks.live_store
	$(BIN)/python -m benchmarks.emulate
	$(BIN)/python -m benchmarks.ehr_path
	$(BIN)/python -m benchmarks.network
	$(MAKE) bench-dicom
	$(MAKE) bench-ehr-live

# the testbed's hot path compiled with mypyc into build/compiled (benchmarks/compiled.py):
# the same source, faster; run with PYTHONPATH=build/compiled (make bench runs it at 10k)
compiled: setup
	$(BIN)/python -m benchmarks.compiled

# the unit, scenario, property and live suites on that build: run from
# build/compiled-suite, links to this checkout whose testbed/ is the compiled copy
# (not part of `make test`: a check of the build the benchmark runs, which CI runs
# after it, .ci/run); the root conftest.py stops every worker that would import the
# pure testbed instead
COMPILED_SUITE := build/compiled-suite
test-compiled: compiled
	rm -rf $(COMPILED_SUITE) && mkdir -p $(COMPILED_SUITE)
	for f in conftest.py tests fixtures scenarios notebooks pyproject.toml benchmarks docs README.md Makefile; do \
	  ln -s $(CURDIR)/$$f $(COMPILED_SUITE)/$$f; done
	ln -s $(CURDIR)/build/compiled/testbed $(CURDIR)/build/compiled/*__mypyc*.so $(COMPILED_SUITE)/
	cd $(COMPILED_SUITE) && TESTBED_COMPILED=1 PYTHONPATH=$(CURDIR)/$(COMPILED_SUITE) \
	  $(CURDIR)/$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile \
	  -p no:cacheprovider tests/unit tests/scenarios tests/property tests/live

# the simulation's cost of the EHR path per delivery, against certificate-only (1k devices)
bench-ehr: setup
	$(BIN)/python -m benchmarks.ehr_path

# live mode's durable store: enrollment throughput durable vs memory, a restart of
# 100k devices / 1M certificates, OCSP on it (benchmarks/live_store.py)
bench-live: setup
	$(BIN)/python -m benchmarks.live_store

# the designs built in network namespaces and probed: build and probe time per
# namespace and per flow (benchmarks/emulate.py; root, ip and nft, else exit 2)
bench-emulate: setup
	$(BIN)/python -m benchmarks.emulate

# network designs: the five designs analysed on a 10-site, 50,000-device hospital
# (seconds per design), and a sweep of 5 designs x 4 fault sets x 3 seeds on the
# flagship in one process vs local processes (benchmarks/network.py)
bench-network: setup
	$(BIN)/python -m benchmarks.network

# the PACS over DICOM TLS: the testbed's acceptor against dcmtk storescp, with dcmtk
# storescu as the client (benchmarks/dicom.py; needs the Debian dcmtk package)
bench-dicom: setup
	$(BIN)/python -m benchmarks.dicom

# live mode's identity provider and FHIR API: token and FHIR create throughput with
# N concurrent clients, as ratios to a minimal aiohttp handler (benchmarks/ehr_live.py)
bench-ehr-live: setup
	$(BIN)/python -m benchmarks.ehr_live

schema: setup
	$(BIN)/testbed schema --out scenarios/scenario.schema.json

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
