# Strongbox developer entry points. `make run` and `make test` are the two
# commands a newcomer needs; everything else is optional.
GO      ?= go
BIN     := bin/strongbox
DATA    ?= $(CURDIR)/.run/data
NODES   ?= 3

.PHONY: all build run test lint unit bench bench-load clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/strongbox

## run: build and start a 3-node local cluster (S3 on 127.0.0.1:9000-9002); Ctrl-C stops it.
run: build
	$(BIN) dev --nodes $(NODES) --data-dir $(DATA)

## test: formatting, vet, staticcheck, then every test with the race detector.
test: lint unit

lint:
	@unformatted=$$(gofmt -l $$(find . -name '*.go' -not -path './.run/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

unit:
	$(GO) test -race -count=1 ./...

## bench: Go micro-benchmarks (state machine, checksums, signing).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./raftfsm/ ./s3api/...

## bench-load: the load tool against a running `make run` cluster (leader and follower, c=1 and c=32).
bench-load: build
	scripts/bench-load.sh

clean:
	rm -rf bin .run
