# Kanna: `make demo` runs a local cluster, `make test` runs every test.
GO      ?= go
BIN     := bin/kanna
PKGS    := ./...

.PHONY: build test vet fmt-check lint demo sim bench proto proto-check deps

build:
	$(GO) build -o $(BIN) ./cmd/kanna

# Everything CI checks: formatting, vet, then the whole suite under the race detector.
test: deps fmt-check vet
	$(GO) test -race -count=1 -timeout 12m $(PKGS)

deps:
	@bash scripts/deps.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

lint: fmt-check vet proto-check

demo: build
	./$(BIN) demo

sim: build
	./$(BIN) sim --seeds 100

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./raft/

# Regenerates proto/kannapb from proto/kanna/v1 with the protoc plugins pinned in go.mod.
proto:
	@bash scripts/deps-proto.sh
	@bash scripts/proto.sh

proto-check:
	@bash scripts/deps-proto.sh
	@bash scripts/proto.sh --check
