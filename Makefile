# Kanna: `make demo` runs a local cluster, `make test` runs every test.
GO      ?= go
SHELL   := /bin/bash
BIN     := bin/kanna
PKGS    := ./...
# The peer systems of the benchmarks, hashicorp/raft and hashicorp/memberlist, are modules of their
# own (so Kanna's module depends on neither); ./... of the root module does not reach them, so
# they are vetted, checked and tested apart.
PEERS   := tests/peers/hashiraft tests/peers/memberlist

.PHONY: build test vet fmt-check staticcheck lint demo sim bench bench-cluster bench-gossip e2e proto proto-check deps

build:
	$(GO) build -o $(BIN) ./cmd/kanna

# Tests that hold real processes to wall-clock bounds (a new leader within two seconds, a browser
# seeing a guess) run after the rest, one package at a time, so the CPU-heavy simulator sweep does
# not share the machine's cores with them.
# tests/netfault cuts real links between nodes in network namespaces (as root; it skips and says
# why otherwise) and runs its five scenarios at once: about 100 s, the longest cut being 60 s.
TIMED_PKGS := ./tests/e2e/ ./tests/browser/ ./tests/netfault/

# staticcheck, pinned here rather than in go.mod so that its own dependencies (golang.org/x/tools
# and others) never raise the versions the module builds with; `go run` fetches it once into the
# module cache.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# Everything CI checks: formatting, vet, staticcheck, then the whole suite under the race detector.
# The three groups of tests run even when an earlier one failed, so one run shows every failure
# (and every skipped test, with why); the exit status is non-zero if any failed.
test: deps fmt-check vet staticcheck
	@rc=0; \
	echo "== every package but the timed ones, under the race detector"; \
	$(GO) test -race -count=1 -timeout 10m $$($(GO) list $(PKGS) | grep -v -e /tests/e2e -e /tests/browser -e /tests/netfault) || rc=1; \
	echo "== the timed packages, one at a time, each test with its result and a skipped one with why: $(TIMED_PKGS)"; \
	set -o pipefail; \
	$(GO) test -v -race -count=1 -timeout 8m -p 1 $(TIMED_PKGS) | grep -v -E '^=== (RUN|PAUSE|CONT|NAME)' || rc=1; \
	set +o pipefail; \
	for p in $(PEERS); do \
		echo "== $$p"; \
		(cd $$p && $(GO) test -race -count=1 -timeout 5m ./...) || rc=1; \
	done; \
	if [ $$rc -ne 0 ]; then echo "make test: some tests FAILED (the FAIL lines above say which)"; fi; \
	exit $$rc

deps:
	@bash scripts/deps.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)
	for p in $(PEERS); do (cd $$p && $(GO) vet ./...) || exit 1; done

staticcheck:
	$(STATICCHECK) $(PKGS)
	for p in $(PEERS); do (cd $$p && $(STATICCHECK) ./...) || exit 1; done

lint: fmt-check vet staticcheck proto-check

# WEB_ADDR=127.0.0.1:8080 serves the game, dashboard and control endpoint on a fixed port; by
# default a free port is picked on every run.
WEB_ADDR ?=
demo: build
	./$(BIN) demo $(if $(WEB_ADDR),--web-addr $(WEB_ADDR))

sim: build
	./$(BIN) sim --seeds 100

# Go benchmarks of the cores and the WAL (testing.B).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./raft/ ./game/ ./server/wal/

# Kanna and hashicorp/raft (tests/peers/hashiraft, a module of its own) on real loopback
# clusters with the same players, back to back: consensus alone, then the whole service (on
# Game.Play streams; add --client-path unary to BENCH_FLAGS for one call per op), one JSON line
# each, ROUNDS times (docs/benchmarks.md).
BENCH_FLAGS ?= --nodes 3 --clients 64 --duration 10s --payload 16
ROUNDS ?= 1
bench-cluster:
	GO=$(GO) bash scripts/bench-cluster.sh $(ROUNDS) $(BENCH_FLAGS)

# hashicorp/memberlist (tests/peers/memberlist, a module of its own) with N members on loopback,
# one stopped without a leave: one JSON line with its join and crash-detection times, the peer side
# of docs/gossip.md's comparison.
N ?= 16
bench-gossip:
	cd tests/peers/memberlist && $(GO) run . -n $(N)

# End-to-end tests on real `kanna node` processes of the built binary (also run by `make test`).
e2e:
	$(GO) test -race -count=1 -timeout 5m ./tests/e2e/

# Regenerates proto/kannapb from proto/kanna/v1 with the protoc plugins pinned in go.mod.
proto:
	@bash scripts/deps-proto.sh
	@bash scripts/proto.sh

proto-check:
	@bash scripts/deps-proto.sh
	@bash scripts/proto.sh --check
