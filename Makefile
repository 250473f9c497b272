# The two set-up commands (`make run`, `make test`) and the benchmarks.
# Everything else is CMake under build/.
JOBS ?= 2
REL := build/release
TST := build/test
# `make run CONFIG=FILE LISTEN=HOST:PORT`; without CONFIG, $SLUICE_CONFIG, as for `sluice serve`
CONFIG ?= $(or $(SLUICE_CONFIG),deploy/sluice.json)
LISTEN ?= 127.0.0.1:8080

.PHONY: deps deps-run build build-test run test bench bench-gateway bench-engine bench-router bench-ledger clean

# Everything: build, test and benchmark tools, the end-to-end tests' npm packages.
deps:
	@bash deploy/deps.sh

# Only what building and serving need (no Node.js, no test tools).
deps-run:
	@bash deploy/deps.sh run

build: deps-run
	@cmake -S . -B $(REL) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(REL) -j $(JOBS) --target sluice

build-test: deps
	@cmake -S . -B $(TST) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_SANITIZE=ON >/dev/null
	@cmake --build $(TST) -j $(JOBS)

run: build
	$(REL)/sluice serve --config $(CONFIG) --listen $(LISTEN)

test: build-test
	cd $(TST) && ctest --output-on-failure -j $(JOBS)

bench: bench-gateway bench-engine bench-router bench-ledger

bench-gateway: deps build
	bash tests/bench/gateway.sh $(REL)/sluice

bench-engine: deps build
	bash tests/bench/engine.sh $(REL)

bench-router: deps build
	bash tests/bench/router.sh $(REL)

bench-ledger: deps build
	@cmake --build $(REL) -j $(JOBS) --target bench_ledger >/dev/null
	$(REL)/tests/bench_ledger
	$(REL)/tests/bench_ledger --journal
	$(REL)/tests/bench_ledger 150000 --journal --rate 15000

clean:
	rm -rf build
