# torchimg. `make demo` runs the whole pipeline offline on this machine; `make test` runs the tests.
# Both install what they need on a fresh Debian 12 machine (as root): runc and mmdebstrap from
# Debian, buildkitd built from its Go module, a base image made with mmdebstrap (cached under
# $TORCHIMG_CACHE, default ~/.cache/torchimg).
GO ?= go
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: all build test unit prereqs demo fuzz bench bench-build clean

all: build

build:
	$(GO) build -o bin/torchimg ./cmd/torchimg

prereqs:
	bash hack/prereqs.sh

# Every test, end-to-end ones included (real buildkitd, a registry on 127.0.0.1, real images).
test: prereqs
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

# Unit tests only (no daemons).
unit:
	$(GO) test -short ./...

# The demo needs no Docker engine and no real torch: only the steps it uses.
demo: build
	bash hack/prereqs.sh tools buildkitd base
	$(GO) build -o bin/devenv ./internal/testenv/devenv
	$(GO) build -o bin/writelayout ./internal/testenv/cudaimage/writelayout
	$(GO) build -o bin/rebase ./internal/testenv/cudaimage/rebase
	bin/devenv -wheels examples/offline/wheels.yaml -- bash hack/demo.sh

fuzz:
	$(GO) test ./matrix -run '^$$' -fuzz FuzzLoad -fuzztime 3m

bench:
	$(GO) test ./matrix -run '^$$' -bench . -benchtime 5x

bench-build: build
	bash hack/prereqs.sh tools buildkitd base
	$(GO) build -o bin/torchimg ./cmd/torchimg && $(GO) run ./internal/testenv/benchbuild -torchimg bin/torchimg

clean:
	rm -rf bin dist
