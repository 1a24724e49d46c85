# rkafka's tasks. `just --list` shows them; `just test` is what CI runs.

set shell := ["bash", "-euo", "pipefail", "-c"]

specs := "../shared/kafka-message-specs"
error_codes := "../shared/kafka-error-codes.tsv"

# Build and run every test (installs the broker peers first), doc examples included
# (`--all-targets` leaves doctests out, so they run in a second step).
test: peers
    cargo test --workspace --all-targets --locked
    cargo test --workspace --doc --locked

# Everything CI checks: formatting, lints, generated code, tests, a bounded fuzz pass.
ci: lint check-generated test fuzz

# rustfmt and clippy, warnings as errors.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    # The harness's Docker support (testcontainers) must build though CI cannot run it.
    cargo clippy -p rkafka-tests --features testcontainers --all-targets --locked -- -D warnings
    # Rustdoc: every public item documented (deny(missing_docs)) and every link resolves.
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked -q

# Install the real broker peers into .venv (librdkafka mock cluster, Tansu, confluent_kafka).
peers:
    bash tools/peers/install.sh

# Regenerate protocol/src/generated from Kafka's JSON specs.
codegen spec_dir=specs:
    cargo run -q -p rkafka-codegen -- {{spec_dir}} protocol/src/generated --error-codes {{error_codes}}

# Fail if the committed generated code differs from a fresh generation.
check-generated spec_dir=specs:
    tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT && \
      cp protocol/src/generated/mod.rs "$tmp/" && \
      cargo run -q -p rkafka-codegen -- {{spec_dir}} "$tmp" --error-codes {{error_codes}} && \
      diff -r protocol/src/generated "$tmp" && echo "generated code is current"

# Criterion benches (codec against kafka-protocol; see BENCHMARKS.md).
bench *args:
    cargo bench -p rkafka-benches {{args}}

# Bounded libFuzzer pass over the decoders: each target for `seconds`, from the
# committed seeds (stable toolchain, no sanitizer: panics, hangs, OOMs are caught).
fuzz seconds="60":
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
    cd fuzz && for t in $(cargo fuzz list | grep -v make_seeds); do \
      mkdir -p corpus/$t seeds/$t && log=$(mktemp) && \
      if ! cargo fuzz run -s none $t corpus/$t seeds/$t -- -max_total_time={{seconds}} \
           -rss_limit_mb=1024 -max_len=65536 >"$log" 2>&1; then \
        tail -60 "$log"; echo "fuzz target $t failed; the input is in fuzz/artifacts/$t"; exit 1; \
      fi; \
      echo "$t: $(grep -E '^Done' "$log")"; \
    done

# Rewrite the fuzz seed corpus from random valid messages.
fuzz-seeds:
    cd fuzz && cargo run -q --bin make_seeds

# Share-consumer throughput: rkafka beside confluent_kafka.ShareConsumer on the mock,
# 1 and 2 consumers, records produced while consumed (see benches/perf/SHARE.md).
share-perf records="100000": peers
    cd benches/perf && cargo run --release --bin share_perf -- {{records}}

# Producer perf: rkafka beside rust-rdkafka and rskafka on the mock cluster, each client in
# its own process (benches/perf is its own workspace: only this builds librdkafka).
# E.g. `just perf --num-records 2000000 --record-size 100`; results: benches/perf/PRODUCER.md.
perf *args: peers
    cd benches/perf && cargo run --release --bin producer-perf -- compare {{args}}
