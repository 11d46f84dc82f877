# The two commands a new user needs: `make run` and `make test`.
# Everything Python goes into .venv (created when missing); system peers for the
# tests (baresip, ffmpeg, tshark, espeak-ng, PostgreSQL, Chromium) come from
# scripts/install-system-deps.sh; a test whose program is missing fails, never skips.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: run test bench lint system-deps cluster clean

$(INSTALLED): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(INSTALLED)

run: $(INSTALLED)
	$(VENV)/bin/mcu serve

system-deps:
	bash scripts/install-system-deps.sh

# Two MCU nodes behind Kamailio with one PostgreSQL, on 127.0.0.10-12 (issue 18).
cluster: $(INSTALLED) system-deps
	bash scripts/cluster.sh

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .

test: $(INSTALLED) system-deps lint
	$(VENV)/bin/pytest -q -p no:cacheprovider

bench: $(INSTALLED)
	$(PY) benchmarks/audio_mix.py
	$(PY) benchmarks/sip_cps.py
	$(PY) benchmarks/dtmf.py
	$(PY) benchmarks/video_cp.py
	$(PY) benchmarks/streaming.py
	$(PY) benchmarks/cluster.py

clean:
	rm -rf $(VENV) var .pytest_cache
