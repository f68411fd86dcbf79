# armgym — two entry points (README): `make demo` and `make test`. Both are idempotent:
# the virtualenv is (re)built only when pyproject.toml or this file change.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# pinned so pip takes the local CPU wheel, never a multi-GB CUDA build
TORCH  := torch==2.13.0
# openpi-client pins numpy<2 but works on numpy 2: install it without its deps
OPENPI := openpi-client==0.1.2 dm-tree typing_extensions
PYTEST_ARGS ?= -n 2

.PHONY: demo test lint typecheck pytest compat bench clean

$(BIN)/.core-installed: pyproject.toml Makefile
	@# offscreen rendering: EGL with Mesa's software driver (Debian packages, usually present)
	ldconfig -p | grep -q 'libEGL.so.1 ' || [ "$$(id -u)" != 0 ] \
		|| apt-get install -y -q libegl1 libegl-mesa0 libgl1-mesa-dri >/dev/null \
		|| (apt-get update -q >/dev/null && apt-get install -y -q libegl1 libegl-mesa0 libgl1-mesa-dri >/dev/null)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[train]"
	touch $@

$(BIN)/.dev-installed: $(BIN)/.core-installed
	$(BIN)/python -m pip install -q -e ".[train,dev,ray,real,franky]"
	$(BIN)/python -m pip install -q --no-deps $(OPENPI)
	@# the viewer tests (`armgym show`, keyboard teleop in the viewer window) run under a
	@# virtual X server and type with xdotool; `armgym view` pages are screenshot-tested in
	@# headless Chromium: Debian's xvfb, xdotool and chromium
	{ command -v xvfb-run && command -v xdotool && command -v chromium; } >/dev/null \
		|| [ "$$(id -u)" != 0 ] \
		|| apt-get install -y -q xvfb xdotool chromium >/dev/null \
		|| (apt-get update -q >/dev/null && apt-get install -y -q xvfb xdotool chromium >/dev/null)
	touch $@

demo: $(BIN)/.core-installed
	$(BIN)/armgym demo

lint: $(BIN)/.dev-installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(BIN)/.dev-installed
	$(BIN)/mypy

pytest: $(BIN)/.dev-installed
	MUJOCO_GL=egl RAY_AUTH_MODE=disabled $(BIN)/python -m pytest $(PYTEST_ARGS) -m "not serial"
	MUJOCO_GL=egl RAY_AUTH_MODE=disabled $(BIN)/python -m pytest -m serial

test: lint typecheck pytest

# lerobot 0.4.4 opens armgym's datasets, TensorFlow Datasets loads its RLDS exports: separate,
# cached venvs (~/.cache/armgym/lerobot-venv, ~/.cache/armgym/tfds-venv)
compat: $(BIN)/.dev-installed
	bash compat/lerobot/run.sh
	bash compat/tfds/run.sh

bench: $(BIN)/.dev-installed
	$(BIN)/python benchmarks/env_throughput.py

clean:
	rm -rf $(VENV) armgym-demo .pytest_cache .ruff_cache .mypy_cache
