#!/usr/bin/env bash
# Runs the fuzz targets of fuzz/ with libFuzzer on the machine's stable toolchain: no
# nightly and no cargo-fuzz binary needed. cargo-fuzz's instrumentation is plain `-C`
# flags (SanitizerCoverage through LLVM), and `libfuzzer-sys` builds libFuzzer itself with
# the C++ compiler; only AddressSanitizer needs nightly, and it is left out (the targets
# are safe Rust). `--target` keeps the flags off build scripts and proc macros, as
# cargo-fuzz does.
#
#   scripts/fuzz.sh                 every target, FUZZ_SECONDS (default 20) each
#   scripts/fuzz.sh saml_response   one target
#   FUZZ_SEED=1 scripts/fuzz.sh     libFuzzer's mutations from a fixed seed (CI): a run
#                                   explores the same inputs each time, as far as its
#                                   time allows, so what CI finds a run here finds too
#
# Each target starts from a copy of its committed corpus (fuzz/corpus/<target>; new
# inputs stay in the temporary copy). A crash, a panic, an input over the time limit or
# over the memory limit fails the script and leaves the input under
# $FUZZ_ARTIFACTS/<target>/ (default fuzz/artifacts/, git-ignored), printing the command
# that replays it.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${FUZZ_SECONDS:-20}"
seed=()
if [ -n "${FUZZ_SEED:-}" ]; then seed=(-seed="$FUZZ_SEED"); fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(decode_json merge_validate saml_metadata hostile_inputs saml_response)
fi
triple="$(rustc -vV | sed -n 's/^host: //p')"
target_dir="${CARGO_TARGET_DIR:-target}"
artifacts="${FUZZ_ARTIFACTS:-artifacts}"
case "$target_dir" in /*) ;; *) target_dir="$(pwd)/$target_dir" ;; esac
case "$artifacts" in /*) ;; *) artifacts="$(pwd)/$artifacts" ;; esac

# The flags cargo-fuzz 0.12 passes for libFuzzer without a sanitizer, plus debug
# assertions and overflow checks (cargo-fuzz's defaults).
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
-Cdebug-assertions -Coverflow-checks"
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
cargo build --release --locked --target "$triple" "${bins[@]}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$work/$t" "$artifacts/$t"
  cp -r "corpus/$t/." "$work/$t/"
  # -timeout: one input over 10 s is a hang; -rss_limit_mb: the inputs' caps keep memory
  # far below 2 GiB.
  if "$target_dir/$triple/release/$t" "$work/$t" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 "${seed[@]}" \
      -artifact_prefix="$artifacts/$t/" -print_final_stats=1 > "$work/$t.log" 2>&1; then
    echo "fuzz $t: $(grep -E '^Done' "$work/$t.log" || echo 'done')"
  else
    failed=1
    echo "fuzz $t: FAILED; the input is in $artifacts/$t/" >&2
    tail -n 40 "$work/$t.log" >&2
    echo "replay: $target_dir/$triple/release/$t $artifacts/$t/<file>" >&2
  fi
done
exit "$failed"
