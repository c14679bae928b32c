# vauth — build, demo, and the one test command (`make test`, which .ci/run calls).
GO          ?= go
BIN         := bin/vauth
VERSION     := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X main.version=$(VERSION)
GOBIN       := $(shell $(GO) env GOPATH)/bin
VM          := ../shared/tools/run-in-vm.sh
FUZZTIME    ?= 5s
FUZZLONG    ?= 2m
SOAKKILLS   ?= 300
SOAKLOAD    ?= 60s

PREFIX      ?= $(HOME)/.local
UNITDIR     ?= $(HOME)/.config/systemd/user

.PHONY: all build install deps demo test lint unit fuzz-smoke vm-test bluez-vm-test bench scale fuzz soak man clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/vauth

## install: the binary into $(PREFIX)/bin and the systemd user unit, which
## runs it from there (README: the udev rule and group need root, once).
install: build
	install -D -m 0755 $(BIN) $(PREFIX)/bin/vauth
	mkdir -p $(UNITDIR)
	sed 's|%h/.local/bin/vauth|$(PREFIX)/bin/vauth|' dist/systemd/vauth.service > $(UNITDIR)/vauth.service
	@echo "installed $(PREFIX)/bin/vauth and $(UNITDIR)/vauth.service; now: systemctl --user daemon-reload && systemctl --user enable --now vauth"

## man: a man page per command (vauth.1, vauth-creds-list.1, ...) in
## bin/man, from the command tree (man -l bin/man/vauth.1).
man: build
	./$(BIN) man bin/man

## deps: install what the tests need (Debian packages, staticcheck); idempotent.
deps:
	@scripts/deps.sh

## demo: the main job — a passkey registration and two sign-ins, end to end.
demo: build
	./$(BIN) demo

## test: everything, as CI runs it.
test: deps lint unit fuzz-smoke vm-test bluez-vm-test

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOBIN)/staticcheck ./...

# internal/e2e needs /dev/uhid: vm-test runs it (natively or in the VM).
unit:
	VAUTH_E2E_REQUIRED=1 $(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/internal/e2e$$')

## fuzz-smoke: every fuzz target for FUZZTIME each (make test).
fuzz-smoke:
	@scripts/fuzz.sh $(FUZZTIME)

## fuzz: every fuzz target for FUZZLONG each, by hand (make fuzz FUZZLONG=30m).
## What a fuzzer finds lands in the package's testdata/fuzz: commit it.
fuzz:
	@scripts/fuzz.sh $(FUZZLONG)

## soak: the crash test with SOAKKILLS kills of the daemon, and the load
## tests for SOAKLOAD each (make test runs 20 kills and 5 s of load).
soak:
	VAUTH_SOAK_KILLS=$(SOAKKILLS) VAUTH_LOAD_TIME=$(SOAKLOAD) $(GO) test -count=1 -timeout 3h -run '^(TestSoak|TestLoad.*)$$' ./cmd/vauth ./internal/bench

## vm-test: the tests that need a kernel with /dev/uhid, natively where it
## exists, else inside the VM from ../shared/tools/run-in-vm.sh.
vm-test:
	@scripts/vm-test.sh

## bluez-vm-test: the hybrid ceremony with its advert through BlueZ, on two
## btvirt controllers inside the VM (needs bluez and bluez-test-tools).
bluez-vm-test:
	@scripts/bluez-vm-test.sh

## bench: speed figures as ratios to their floors, from one run, and the
## daemon's start-up and memory with 10k and 100k credentials.
bench:
	$(GO) run ./internal/bench/benchtable

## scale: the daemon at 1k, 10k and 100k discoverable credentials.
scale:
	$(GO) run ./internal/bench/benchtable -scale

clean:
	rm -rf bin
