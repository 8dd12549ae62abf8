# vigil — build, test and demo entry points. GNU make.
#
#   make test        what CI runs (.ci/run): deps, vet, race tests, short fuzz
#   make test-short  quick unit tests, no Redis needed for -short-aware tests
#   make lint        gofmt, go vet, golangci-lint (not part of test)
#   make demo        master + 2 replicas + 3 vigil nodes, kill the master, watch the failover
#   make bench       failover and cost benchmark, vigil vs redis-sentinel

GO       ?= go
BIN      ?= bin
FUZZTIME ?= 10s
# -race roughly doubles test time; the suite must still fit in ~15 min on 2
# cores. The 20m timeout is a backstop for hung tests, not the budget.
TESTFLAGS ?= -race -count=1 -timeout 20m

.PHONY: all deps build test test-short fuzz lint demo bench chaos clean install

all: build

## deps: install redis-server, redis-cli and redis-sentinel (Debian packages) if missing;
## the tests compare vigil's replies with a real redis-sentinel
deps:
	@bash scripts/install-deps.sh --sentinel

## build: compile the vigil binary into bin/vigil
build:
	$(GO) build -o $(BIN)/vigil ./cmd/vigil

## test: dependencies, vet, the full test suite with -race, then a short fuzz
test: deps
	$(GO) vet ./...
	$(GO) test $(TESTFLAGS) ./...
	@$(MAKE) --no-print-directory fuzz FUZZTIME=5s

## test-short: unit tests only (tests honour testing.Short)
test-short:
	$(GO) test -short ./...

## fuzz: run every Fuzz* target for FUZZTIME (default 10s) each
fuzz:
	@FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

## lint: gofmt check, go vet, golangci-lint when available
lint:
	@bash scripts/lint.sh

## demo: a local master + 2 replicas watched by one vigil node
demo:
	@bash scripts/demo.sh

## bench: vigil vs redis-sentinel failover/cost benchmark, regenerates docs/performance.md (BENCHFLAGS=-quick: smoke run)
bench: build
	@bash scripts/install-deps.sh --sentinel
	$(GO) run ./bench $(BENCHFLAGS)

## chaos: fault-injection suite, vigil vs redis-sentinel (kill, SIGSTOP, leader crash, total outage,
## flapping, latency, partitions (isolated master, split controllers: network namespaces, needs root),
## controller stall/TILT, controllers down, switchover linearizability); regenerates docs/reliability.md
## (CHAOSFLAGS=-quick: smoke run; e.g. CHAOSFLAGS="-runs 5 -scenario partition")
chaos: build
	@bash scripts/install-deps.sh --sentinel
	$(GO) run ./chaos $(CHAOSFLAGS)

## install: copy bin/vigil to $(PREFIX)/bin (default /usr/local/bin); run
## make build first (as your user), then e.g. sudo make install
PREFIX ?= /usr/local
install:
	@test -x $(BIN)/vigil || { echo "install: $(BIN)/vigil is missing; run make build first" >&2; exit 1; }
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN)/vigil $(DESTDIR)$(PREFIX)/bin/vigil

## clean: remove build output and test caches
clean:
	rm -rf $(BIN)
	$(GO) clean -testcache
