# The Eye. `make run` serves on 127.0.0.1:8000 with its data in ./eye-data;
# `make test` runs every test. Only Go is needed.

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

.PHONY: run test race build lint ci

run:
	go run ./cmd/eye serve

test:
	go test ./...

# The tests with the race detector (needs cgo: gcc).
race:
	go test -race -count=1 ./...

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/eye ./cmd/eye

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: the files above need formatting"; exit 1; }
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

ci:
	.ci/run

# The load benchmark (docs/benchmarks.md): builds The Eye, runs it on
# temporary data directories and prints the table; the full run stores 10
# million events and takes 15 minutes or more. BENCHFLAGS=-quick: a short run.
.PHONY: bench
bench:
	go run ./cmd/eye-bench $(BENCHFLAGS)
