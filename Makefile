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

# The main job on the embedded default: a local chain with dgrid's contracts deployed.
demo: build
	$(BUILD)/dgrid devnet up --dir .devnet

test: build
	@scripts/run-tests $(BUILD)

bench: build
	@scripts/run-benches $(BUILD)

clean:
	rm -rf build
