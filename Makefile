# The README's two commands: `make demo` and `make test`. Both set everything up first.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
DEBS    := tesseract-ocr tesseract-ocr-vie fonts-liberation2
export OMP_THREAD_LIMIT := 1

.PHONY: demo test eval system venv clean samples

# Debian packages: installed only when something is missing (root, as on CI).
system:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BIN)/python:
	$(PY) -m venv $(VENV)

venv: system $(BIN)/python
	@$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'

demo: venv
	$(BIN)/kiemchung demo

test: venv
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

eval: venv
	$(BIN)/python -m samples.evaluate --count 60 --seed 2024

samples: venv
	$(BIN)/python -m samples.build_demo

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
