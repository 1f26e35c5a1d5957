#!/usr/bin/env bash
# Runs sft's fuzz targets (fuzz/) for a while each, on the stable toolchain.
#
#   ci/fuzz.sh                      every target, 60 s each
#   ci/fuzz.sh messages 600         one target for 10 minutes
#   FUZZ_ARGS='-max_len=65536' ci/fuzz.sh client_session 120
#
# How it works on stable: cargo-fuzz with `--sanitizer none` adds only
# stable rustc flags (-Cpasses=sancov-module and the SanitizerCoverage
# -Cllvm-args) and links libFuzzer from the libfuzzer-sys crate, so no
# nightly toolchain or RUSTC_BOOTSTRAP is needed. What is lost is
# AddressSanitizer, which `#![forbid(unsafe_code)]` Rust needs least;
# `--debug-assertions` keeps overflow checks and debug_assert! on.
#
# Seeds in fuzz/corpus/TARGET are only read; what the fuzzer finds goes to
# fuzz/work/corpus/TARGET (ignored by git, kept between runs). A crash is
# saved in fuzz/artifacts/TARGET/ and this script exits 1 after printing
# the panic and how to reproduce and minimize it. Logs: fuzz/work/TARGET.log.
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2
cd "$(dirname "$0")/.."

target=${1:-all}
seconds=${2:-60}
case $seconds in
'' | *[!0-9]*)
    echo "usage: ci/fuzz.sh [TARGET|all] [SECONDS]" >&2
    exit 2
    ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
installed=$(cargo fuzz --version)
case $installed in
*" $CARGO_FUZZ_VERSION") ;;
*) echo "note: using $installed; this script was written for $CARGO_FUZZ_VERSION" >&2 ;;
esac

flags=(--sanitizer none --debug-assertions)
mapfile -t all < <(cargo fuzz list)
if [[ $target == all ]]; then
    targets=("${all[@]}")
elif printf '%s\n' "${all[@]}" | grep -qx -- "$target"; then
    targets=("$target")
else
    echo "unknown target $target; targets: ${all[*]}" >&2
    exit 2
fi

cargo fuzz build "${flags[@]}"

failed=0
for t in "${targets[@]}"; do
    work=fuzz/work/corpus/$t
    seeds=fuzz/corpus/$t
    log=fuzz/work/$t.log
    mkdir -p "$work" "$seeds" "fuzz/artifacts/$t"
    before=$(find "fuzz/artifacts/$t" -type f | sort)
    echo "== $t: ${seconds}s"
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of libFuzzer flags
    if cargo fuzz run "${flags[@]}" "$t" "$work" "$seeds" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 ${FUZZ_ARGS:-} \
        >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    echo "$t: ${runs:-?} executions (${rate:-?}/s), corpus $(find "$work" -type f | wc -l) inputs: $status"
    new=$(comm -13 <(echo "$before") <(find "fuzz/artifacts/$t" -type f | sort) | sed '/^$/d')
    if [[ $status != ok ]]; then
        grep -m1 -A4 -E "panicked at|ERROR: libFuzzer|deadly signal" "$log" || tail -n 20 "$log"
        for a in $new; do
            echo "  input: $a ($(wc -c <"$a") bytes)"
            echo "  reproduce: cargo fuzz run ${flags[*]} $t $a"
            echo "  minimize:  cargo fuzz tmin ${flags[*]} $t $a"
        done
    fi
done
exit "$failed"
