# One-command set-up: `make run` opens the tool, `make test` runs every test. Both install what is missing:
# a project-local .venv with the PyTorch wheel whose LibTorch tch 0.24 links against (2.11.0).

TORCH_VERSION := 2.11.0
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
TORCH_STAMP := $(VENV)/.torch-$(TORCH_VERSION)
CARGO ?= cargo
# Where a new user's scene opens from; overridable: make run SCENE=path
ARGS ?=

.PHONY: all venv build release run test test-gui gui-deps gui-smoke lint fmt bench clean-venv check-tools

all: build

check-tools:
	@command -v $(CARGO) >/dev/null || { echo "error: cargo not found; install Rust 1.95+ from https://rustup.rs"; exit 1; }
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.10+ (with venv)"; exit 1; }

# The venv is made once; the stamp records which torch it holds. `.venv/libtorch` is the fixed path
# .cargo/config.toml points LIBTORCH at, whatever python3.X folder pip chose.
$(TORCH_STAMP):
	@$(MAKE) --no-print-directory check-tools
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV) || { echo "error: '$(PYTHON) -m venv' failed; on Debian: apt-get install python3-venv"; exit 1; }
	@avail=$$(df -Pk . | awk 'NR==2 {print int($$4/1048576)}'); if [ "$$avail" -lt 8 ]; then \
	  echo "warning: only $${avail} GiB free here; the PyTorch $(TORCH_VERSION) wheel and its NVIDIA runtime wheels need about 5 GiB in $(VENV) plus about 3 GiB while they download"; fi
	@echo "installing torch==$(TORCH_VERSION) and numpy into $(VENV) (about 5 GiB, once)"
	@$(VPY) -m pip install --disable-pip-version-check --no-cache-dir -q torch==$(TORCH_VERSION) numpy || { \
	  echo "error: 'pip install torch==$(TORCH_VERSION)' into $(VENV) failed (see above). Free disk space now:"; df -h . "$${TMPDIR:-/tmp}"; \
	  echo "It needs about 8 GiB free (5 GiB installed in $(VENV), 3 GiB of downloads in $${TMPDIR:-/tmp}); set TMPDIR to a roomier disk if /tmp is small."; exit 1; }
	ln -sfn "$$($(VPY) -c 'import torch, os; print(os.path.dirname(torch.__file__))')" $(VENV)/libtorch
	@test -f $(VENV)/libtorch/lib/libtorch_cpu.so || { echo "error: $(VENV)/libtorch/lib/libtorch_cpu.so missing after install"; exit 1; }
	touch $@

venv: $(TORCH_STAMP)

build: $(TORCH_STAMP)
	$(CARGO) build

release: $(TORCH_STAMP)
	$(CARGO) build --release

run: release
	./target/release/pix2pixhd $(ARGS)

# The GUI tests (tests/editor.rs) render headless through wgpu's software adapter and run here with the rest.
# When Xvfb is there, the real-window smoke test runs too (`make test-gui` installs it first).
test: $(TORCH_STAMP)
	$(CARGO) test --all-targets -- --test-threads=2
	$(CARGO) test --doc
	@if command -v Xvfb >/dev/null && command -v import >/dev/null; then $(MAKE) --no-print-directory gui-smoke; \
	else echo "note: Xvfb/ImageMagick not installed: skipping the real-window smoke test (make test-gui runs it)"; fi

gui-deps:
	@command -v Xvfb >/dev/null && command -v import >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then apt-get install -y -q xvfb imagemagick; \
	  elif command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then sudo apt-get install -y -q xvfb imagemagick; \
	  else echo "error: install Xvfb and ImageMagick (Debian: apt-get install xvfb imagemagick)"; exit 1; fi; }

gui-smoke: release
	scripts/gui_smoke.sh ./target/release/pix2pixhd target/gui-smoke.png

# The editor in a real X window (Xvfb), with the bundled model: waits for the first render, takes a screenshot
# (target/gui-smoke.png) and checks it is not blank.
test-gui: $(TORCH_STAMP) gui-deps gui-smoke

lint: $(TORCH_STAMP)
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

bench: release
	./target/release/pix2pixhd bench

clean-venv:
	rm -rf $(VENV)
