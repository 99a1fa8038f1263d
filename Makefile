# Strongbox developer entry points. `make run` and `make test` are the two
# commands a newcomer needs; everything else is optional.
GO      ?= go
BIN     := bin/strongbox
DATA    ?= $(CURDIR)/.run/data
NODES   ?= 3
CRASH_DURATION ?= 5m
FUZZTIME ?= 60s
FUZZSHORTTIME ?= 3s

.PHONY: all build run test lint unit bench bench-load bench-large bench-failover bench-overload test-clients clean check check-long crash fuzz fuzz-short

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
	$(GO) test -race -count=1 -timeout 20m ./...

## fuzz: every native fuzz target (go test -fuzz), one after another, FUZZTIME each (default 60s); prints executions per target. FUZZ=regexp picks targets, FUZZPARALLEL=n sets workers.
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

## fuzz-short: every fuzz target for FUZZSHORTTIME (default 3s), as CI runs them.
fuzz-short:
	GO=$(GO) FUZZTIME=$(FUZZSHORTTIME) scripts/fuzz.sh

## bench: Go micro-benchmarks (state machine, checksums, signing).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./raftfsm/ ./s3api/...

## bench-load: the load tool against a running `make run` cluster (leader and follower, c=1 and c=32).
bench-load: build
	scripts/bench-load.sh

## bench-large: a fresh 3-node cluster of real processes (S3 on 127.0.0.1:9100-9102): through a follower, a 1 GiB PutObject and a 1 GiB multipart upload with each node's peak RSS, then 64 MiB PUT/GET throughput next to dd's disk bandwidth.
bench-large:
	GO=$(GO) scripts/bench-large.sh

## bench-failover: a fresh 3-node cluster of real processes (S3 on 127.0.0.1:9150-9152) with default timeouts; kills the leader 5 times and times until a write through a survivor succeeds.
bench-failover:
	GO=$(GO) scripts/bench-failover.sh

## bench-overload: a fresh 3-node cluster (S3 on 127.0.0.1:9200-9202) with --max-in-flight 32 driven at 10x that for 60 s: share shed, p99 admitted, peak goroutines and RSS per node, leaders seen.
bench-overload:
	GO=$(GO) scripts/bench-overload.sh

## test-clients: install Debian's awscli, python3-boto3, s3cmd, rclone and the AWS SDK for JavaScript v3 (npm ci), then run a scripted session with each against a fresh 3-node cluster.
test-clients: build
	scripts/test-clients/run.sh

## check: the linearizability harness: each nemesis for 40s on 3 nodes, then every named scenario (about 5 min).
check: build
	scripts/check.sh

## check-long: 10 minutes, 5 nodes, every nemesis; report under .run/check-long.
check-long: build
	$(BIN) check --nodes 5 --nemesis all --duration 10m --check-timeout 10m --out .run/check-long

## crash: the crash test for 5 minutes on 3 nodes: writes of small, large and multipart objects while nodes (the leader too, sometimes all at once) are killed with SIGKILL, then every acknowledged write checked, byte for byte, on every node; report under .run/crash.
crash: build
	rm -rf .run/crash
	$(BIN) crash --duration $(CRASH_DURATION) --out .run/crash

clean:
	rm -rf bin .run
