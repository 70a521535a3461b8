# The two commands: `make demo` and `make test`. Both install what is needed first.
BUILD ?= build/release
PRESET ?= release
JOBS ?= $(shell nproc)

.PHONY: setup build demo test bench fuzz clean

setup:
	@scripts/setup

build: setup
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The main job on the embedded default: a local chain, three providers (one cheating) and a
# gateway on loopback, real traffic, spot checks, disputes and slashing; then the gateway stays
# up for you to try. MODEL=path/to/model.gguf serves a real model (default: a synthetic one).
# DEMO_FLAGS="--once" exits after the summary.
MODEL ?=
DEMO_FLAGS ?=
demo: build
	$(BUILD)/dgrid demo --dir .demo $(if $(MODEL),--model $(MODEL)) $(DEMO_FLAGS)

test: build
	@scripts/run-tests $(BUILD)

bench: build
	@scripts/run-benches $(BUILD)

clean:
	rm -rf build
