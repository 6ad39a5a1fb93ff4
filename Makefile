# pi2pi — build, test and run the whole system.
#
#   make demo    a server and two terminals on this machine, and the course handouts' round trip
#   make test    every test (installs the system tools the tests need when run as root)
#   make bench   every benchmark; writes docs/benchmarks.md
#   make lab     a server and two terminals as booted Debian machines (as root)

GO        ?= go
BIN       ?= bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
BUILDFLAGS := -trimpath
# System tools the tests use (systemd user manager, qemu-user, lintian, ...).
APT_TOOLS := systemd man-db procps tmux iproute2 qemu-user lintian dpkg-dev python3 tcpdump \
             mmdebstrap systemd-container bash-completion
# The arm64 lab (make lab-arm64) also needs these.
ARM64_TOOLS := qemu-user-static
FUZZTIME  ?= 5s
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build test test-go deps lint vet bench demo demo-stop cross deb fuzz soak statechart clean \
	lab lab-down lab-arm64

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build $(BUILDFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN)/pi2pi-server ./server/cmd/pi2pi-server
	$(GO) build $(BUILDFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN)/pi2pid ./daemon/cmd/pi2pid
	$(GO) build $(BUILDFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN)/pi2pictl ./ctl/cmd/pi2pictl

# deps installs the Debian packages the tests need. It does nothing when they
# are present, and only explains what is missing when not run as root.
deps:
	@missing=""; for p in $(APT_TOOLS) $(EXTRA_TOOLS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
		echo "not root: tests that need$$missing will skip (sudo apt-get install$$missing)"; \
	fi

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./server/...
	$(GO) vet -tags soak ./e2e/

lint: vet
	$(GO) run $(STATICCHECK) ./...

test: deps lint
	$(GO) test -race -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=3s

bench: build
	$(GO) run ./e2e/benchreport -out docs/benchmarks.md

demo:
	@bash e2e/demo.sh

demo-stop:
	@bash e2e/demo.sh stop

statechart:
	$(GO) generate ./daemon/terminal

cross:
	GOOS=linux   GOARCH=amd64         $(GO) build $(BUILDFLAGS) -o /dev/null ./server/cmd/pi2pi-server ./daemon/cmd/pi2pid ./ctl/cmd/pi2pictl
	GOOS=linux   GOARCH=arm64         $(GO) build $(BUILDFLAGS) -o /dev/null ./server/cmd/pi2pi-server ./daemon/cmd/pi2pid ./ctl/cmd/pi2pictl
	GOOS=linux   GOARCH=arm GOARM=6   $(GO) build $(BUILDFLAGS) -o /dev/null ./server/cmd/pi2pi-server ./daemon/cmd/pi2pid ./ctl/cmd/pi2pictl
	GOOS=linux   GOARCH=arm GOARM=7   $(GO) build $(BUILDFLAGS) -o /dev/null ./server/cmd/pi2pi-server ./daemon/cmd/pi2pid ./ctl/cmd/pi2pictl
	GOOS=windows GOARCH=amd64         $(GO) build $(BUILDFLAGS) -o /dev/null ./server/cmd/pi2pi-server
	GOOS=darwin  GOARCH=arm64         $(GO) build $(BUILDFLAGS) -o /dev/null ./server/cmd/pi2pi-server

deb:
	bash deploy/build-deb.sh

fuzz:
	bash e2e/fuzz.sh $(FUZZTIME)

# The lab: the .debs on booted Debian bookworm machines (deploy/lab). The
# lab test (TestLab) runs in make test; these bring the machines up for a
# person, and run the arm64 variant under qemu-user emulation.
LAB_DEBS := $(CURDIR)/.lab/debs

lab: deps
	@mkdir -p $(BIN) && rm -rf $(LAB_DEBS)
	DIST=$(LAB_DEBS) bash deploy/build-deb.sh amd64
	$(GO) build -o $(BIN)/pi2pi-lab ./deploy/lab/cmd/pi2pi-lab
	$(BIN)/pi2pi-lab up $(LAB_DEBS)

lab-down:
	$(GO) build -o $(BIN)/pi2pi-lab ./deploy/lab/cmd/pi2pi-lab
	$(BIN)/pi2pi-lab down

lab-arm64:
	@$(MAKE) --no-print-directory deps EXTRA_TOOLS="$(ARM64_TOOLS)"
	PI2PI_LAB_ARM64=1 $(GO) test -count=1 -run 'TestLabArm64$$' -timeout 40m -v ./deploy/lab/

soak: build
	$(GO) test -tags soak -run Soak -timeout 60m -v ./e2e/

clean:
	rm -rf $(BIN) dist .demo .lab
