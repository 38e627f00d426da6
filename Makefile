# grey — see README.md. Every target works on a fresh clone with Go installed.
GO        ?= go
BIN       := bin/grey
PKGS      := ./...
FUZZTIME  ?= 30s
BENCHTIME ?= 1x

.PHONY: all build test attack bench bench-go fuzz lint demo clean install uninstall

all: build

## build: bin/grey, the front that answers show/search/policy itself, and
## bin/grey-core, the whole tool, which the front execs for everything else
## (docs/architecture.md says why). Static (no cgo): the dynamic loader and
## libc's start-up cost about 2 ms per command.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/grey-front
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)-core ./cmd/grey

## install: bin/grey into $(PREFIX)/bin, grey-core into $(PREFIX)/lib/grey
## (where the front looks for it), the man page and the bash, zsh and fish
## completions, all generated from the command model so they never drift
## from --help. DESTDIR stages the whole tree elsewhere (for packaging).
PREFIX    ?= /usr/local
DESTDIR   ?=
MANDATE   := $(shell git log -1 --format=%cs 2>/dev/null)
INSTALLED := $(DESTDIR)$(PREFIX)/bin/grey $(DESTDIR)$(PREFIX)/lib/grey/grey-core \
	$(DESTDIR)$(PREFIX)/share/man/man1/grey.1.gz \
	$(DESTDIR)$(PREFIX)/share/bash-completion/completions/grey \
	$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_grey \
	$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/grey.fish

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/grey \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/grey
	install -m 0755 $(BIN)-core $(DESTDIR)$(PREFIX)/lib/grey/grey-core
	$(BIN)-core manpage --date "$(MANDATE)" | gzip -9n > $(DESTDIR)$(PREFIX)/share/man/man1/grey.1.gz
	$(BIN)-core completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/grey
	$(BIN)-core completion zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_grey
	$(BIN)-core completion fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/grey.fish

uninstall:
	rm -f $(INSTALLED)
	-rmdir $(DESTDIR)$(PREFIX)/lib/grey 2>/dev/null

## test: the whole suite with the race detector. Tests that need a host tool or
## ../shared/testdata skip with a message (and fail under CI=true). Tests that
## read the whole 50 MB index (TestFull*) take minutes under -race, so they
## skip there and run in a second pass without it, as do cmd/grey's tests of
## whole app command flows (TestApp*: testfixture.AppCommands).
## Each pass ends with gotestsum's summary: every skipped test with its
## reason (the tool or fixture missing), every failure, and the counts.
GOTESTSUM ?= $(GO) run gotest.tools/gotestsum@v1.13.0 --format pkgname-and-test-fails --format-hide-empty-pkg --
test:
	$(GO) vet $(PKGS)
	$(GOTESTSUM) -race -count=1 -timeout 20m $(PKGS)
	$(GOTESTSUM) -count=1 -timeout 20m -run '^(TestFull|TestApp)' $(PKGS)

## attack: the attack suite of docs/security.md: hostile packages, hostile
## servers and metadata, local users, kills and full disks. Each test checks
## the refusal message and that the root, databases, store and cache are as
## they were (or, for faults, exactly before or after). make test runs them
## too; this target runs only them.
ATTACK_TESTS := TestAttack|TestDiskFull|TestDownloadFreeSpace|TestKillNewDirectories|TestKillUpgradeRemove|TestInterruptedSeenByEveryCommand|TestPrivateViewReportsInterrupted|TestBadInputsLeaveRootUnchanged|TestReplacesMovesOwnership|TestDataSizeCap|TestDecompressionBomb|TestBadArchives|TestTruncatedEverywhere|TestRelPath|TestFixtureTampered|TestFixtureExpired|TestTestRepo|TestRollbackSurvivesWipedLists|TestOneFailureKeepsOthers|TestHTTPErrors|TestAptRejectsTampered|TestSyncRefusesTampered|TestLocked|TestLockNoWaitNamesHolder|TestDpkgLockBothWays
attack:
	$(GO) test -count=1 -timeout 20m -run '^($(ATTACK_TESTS))' $(PKGS)

## bench: Go benchmarks, then whole-command comparisons against the anchors.
bench: build bench-go
	@if [ -x bench/run.sh ]; then bash bench/run.sh; fi

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

## fuzz: every fuzz target for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg; \
	  done; \
	done

lint:
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@latest $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)

## demo: the main job on the bundled example; no network, no setup.
demo: build
	bash examples/demo.sh

clean:
	rm -rf bin demo-out
