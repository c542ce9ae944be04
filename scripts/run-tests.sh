#!/usr/bin/env bash
# Builds and runs every test of lxdex, and ends with one line: "N passed, N failed".
#
#   scripts/run-tests.sh [release] [asan] [fuzz]      (default: all three)
#
#   release  build/       Release (-O2 -g), every CTest test
#   asan     build-asan/  LX_SANITIZE=ON (ASan + UBSan, -O1 -g, assertions on), every CTest test
#   fuzz     build-fuzz/  clang + LX_FUZZ=ON; each fuzz/fuzz_<name>.c runs FUZZ_TEST_SECONDS
#
# Counting: each CTest test in each configuration is one test (read from ctest's JUnit file:
# status "run" passes; "fail", or "notrun" for any reason but its skip code 77, fails); each fuzz
# driver run is one test; a configuration that fails to configure or build is one failed test
# (its tests still run when the build got far enough, and a test whose program is missing fails).
# The script exits non-zero if anything failed or if no test ran at all.
#
# Environment:
#   TEST_SCALE          passed through to the tests (they scale their iteration counts by it)
#   TEST_FILTER         a regex: run only the CTest tests it matches (ctest -R)
#   CTEST_JOBS          parallel tests per configuration (default 2)
#   FUZZ_TEST_SECONDS   seconds per fuzz driver (default 20)
#   CI                  when set, warnings are errors (-Werror)
#   BUILD_JOBS          parallel compile jobs (default: number of CPUs)
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$(pwd)

CTEST_JOBS=${CTEST_JOBS:-2}
FUZZ_TEST_SECONDS=${FUZZ_TEST_SECONDS:-20}
BUILD_JOBS=${BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}
TEST_FILTER=${TEST_FILTER:-}

passed=0
failed=0
skipped=0
failures=()
reported=0

# The closing line is printed exactly once, last, however the script ends.
# shellcheck disable=SC2317 # called from the EXIT trap
report() {
    [ "$reported" = 1 ] && return
    reported=1
    echo
    if [ "$skipped" -gt 0 ]; then
        echo "($skipped skipped: exit status 77)"
    fi
    if [ "${#failures[@]}" -gt 0 ]; then
        echo "FAILED:"
        printf '  %s\n' "${failures[@]}"
    fi
    if [ $((passed + failed)) -eq 0 ]; then
        echo "no tests ran"
    fi
    echo "$passed passed, $failed failed"
}
trap report EXIT
trap 'failures+=("interrupted"); failed=$((failed + 1)); exit 130' INT TERM

fail() {
    failures+=("$1")
    failed=$((failed + 1))
}

section() {
    echo
    echo "==== $* ===="
}

if [ $# -eq 0 ]; then
    set -- release asan fuzz
fi
for c in "$@"; do
    case "$c" in
    release | asan | fuzz) ;;
    *)
        echo "usage: $0 [release] [asan] [fuzz]" >&2
        exit 2
        ;;
    esac
done

# Run from `make test`, the inner makes would print every directory they enter; they get their
# parallelism from --parallel below, not from the outer make.
unset MAKEFLAGS MFLAGS MAKELEVEL

# UBSan: print a stack trace for every report (reports already abort: -fno-sanitize-recover).
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ -n "${TEST_SCALE:-}" ]; then
    export TEST_SCALE
    echo "TEST_SCALE=$TEST_SCALE"
fi

# make's keep-going flag, so one broken file does not hide every other test.
keep_going() {
    local gen
    gen=$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$1/CMakeCache.txt" 2>/dev/null)
    case "$gen" in
    Ninja*) echo "-k 0" ;;
    *Makefiles*) echo "-k" ;;
    esac
}

# configure_and_build NAME DIR CMAKE-ARGS...: returns 0 if the build is complete, 1 if it
# failed but produced a test list (run what there is), 2 if there is nothing to run.
configure_and_build() {
    local name=$1 dir=$2
    shift 2
    section "$name: configure ($dir)"
    if ! cmake -S "$ROOT" -B "$dir" "$@"; then
        fail "$name: cmake configure failed (see above)"
        return 2
    fi
    section "$name: build"
    # shellcheck disable=SC2046 # keep_going prints zero, one or two words
    if ! cmake --build "$dir" --parallel "$BUILD_JOBS" -- $(keep_going "$dir"); then
        fail "$name: build failed (see the compiler errors above)"
        [ -f "$dir/CTestTestfile.cmake" ] && return 1
        return 2
    fi
    return 0
}

# Reads ctest's JUnit file and adds to the counts.
count_junit() {
    local name=$1 junit=$2 line
    while IFS= read -r line; do
        case "$line" in
        PASS\ *) passed=$((passed + 1)) ;;
        SKIP\ *)
            skipped=$((skipped + 1))
            echo "skipped: $name: ${line#SKIP }"
            ;;
        FAIL\ *) fail "$name: ${line#FAIL }" ;;
        esac
    done < <(awk '
        function attr(s, a,    r) {
            r = a "=\"[^\"]*\""
            if (match(s, r)) return substr(s, RSTART + length(a) + 2, RLENGTH - length(a) - 3)
            return ""
        }
        /<testcase / { tname = attr($0, "name"); status = attr($0, "status"); msg = "" }
        /<skipped / { msg = attr($0, "message") }
        /<\/testcase>/ {
            if (status == "run") print "PASS " tname
            else if (status == "disabled") print "SKIP " tname " (disabled)"
            else if (status == "notrun" && msg ~ /^SKIP_RETURN_CODE=/) print "SKIP " tname
            else if (status == "notrun") print "FAIL " tname " (not run: " msg ")"
            else print "FAIL " tname
        }' "$junit")
}

run_ctest() {
    local name=$1 dir=$2 junit rc before
    junit="$ROOT/$dir/ctest-junit.xml"
    rm -f "$junit"
    section "$name: tests ($dir)"
    local args=(--test-dir "$dir" --output-on-failure -j "$CTEST_JOBS" --output-junit "$junit")
    [ -n "$TEST_FILTER" ] && args+=(-R "$TEST_FILTER")
    ctest "${args[@]}"
    rc=$?
    if [ ! -s "$junit" ]; then
        fail "$name: ctest wrote no results (exit status $rc)"
        return
    fi
    before=$failed
    count_junit "$name" "$junit"
    # ctest failing without a failed test case (e.g. a fixture error) is still a failure.
    if [ "$rc" -ne 0 ] && [ "$failed" -eq "$before" ]; then
        fail "$name: ctest exited with status $rc"
    fi
}

# LeakSanitizer cannot run where ptrace is forbidden (some containers); say so, then go on
# without leak checks rather than failing every test for the machine's sake.
check_lsan() {
    local cc=$1 tmp out
    [ -n "${ASAN_OPTIONS:-}" ] && return
    tmp=$(mktemp -d) || return
    printf 'int main(void) { return 0; }\n' >"$tmp/t.c"
    if "$cc" -fsanitize=address "$tmp/t.c" -o "$tmp/t" 2>/dev/null; then
        if ! out=$("$tmp/t" 2>&1) && printf '%s' "$out" | grep -q 'LeakSanitizer'; then
            echo "NOTE: LeakSanitizer does not work on this machine; running without leak checks"
            export ASAN_OPTIONS=detect_leaks=0
        fi
    fi
    rm -rf "$tmp"
}

run_config() {
    local name=$1 dir=$2 st
    shift 2
    configure_and_build "$name" "$dir" "$@"
    st=$?
    [ "$st" -le 1 ] && run_ctest "$name" "$dir"
}

# Each fuzz/fuzz_<name>.c: run FUZZ_TEST_SECONDS on a scratch copy of fuzz/corpus/<name>/
# (or fuzz/corpus/fuzz_<name>/), with fuzz/<name>.dict if there is one. Crash inputs are kept
# in build-fuzz/artifacts/<name>/.
run_fuzz() {
    local drivers=() src base name exe corpus dict work log rc st d a
    shopt -s nullglob
    drivers=(fuzz/fuzz_*.c)
    shopt -u nullglob
    section "fuzz"
    if [ "${#drivers[@]}" -eq 0 ]; then
        echo "no fuzz drivers (fuzz/fuzz_*.c)"
        return
    fi
    if ! command -v clang >/dev/null 2>&1; then
        if [ -n "${CI:-}" ]; then
            fail "fuzz: clang not found (scripts/install-deps.sh installs it)"
        else
            echo "clang not found: skipping the ${#drivers[@]} fuzz driver(s)"
        fi
        return
    fi
    CC=clang configure_and_build fuzz build-fuzz -DLX_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug
    st=$?
    [ "$st" -eq 2 ] && return
    mkdir -p build-fuzz/logs
    for src in "${drivers[@]}"; do
        base=$(basename "$src" .c)
        name=${base#fuzz_}
        exe="build-fuzz/fuzz/$base"
        if [ ! -x "$exe" ]; then
            fail "fuzz: $base was not built"
            continue
        fi
        work=$(mktemp -d "${TMPDIR:-/tmp}/lxdex-corpus-$name.XXXXXX")
        corpus=""
        for d in "fuzz/corpus/$name" "fuzz/corpus/$base"; do
            if [ -d "$d" ]; then
                corpus=$d
                cp -R "$d/." "$work/"
                break
            fi
        done
        dict=()
        for d in "fuzz/$name.dict" "fuzz/$base.dict"; do
            if [ -f "$d" ]; then
                dict=("-dict=$d")
                break
            fi
        done
        mkdir -p "build-fuzz/artifacts/$name"
        log="build-fuzz/logs/$base.log"
        echo "-- $base: ${FUZZ_TEST_SECONDS}s, corpus ${corpus:-(none)}"
        timeout --kill-after=30 $((FUZZ_TEST_SECONDS + 300)) \
            "$exe" -max_total_time="$FUZZ_TEST_SECONDS" -timeout=30 -print_final_stats=1 \
            -artifact_prefix="build-fuzz/artifacts/$name/" "${dict[@]}" "$work" >"$log" 2>&1
        rc=$?
        rm -rf "$work"
        grep -E '^Done [0-9]+ runs' "$log" | sed 's/^/   /'
        if [ "$rc" -eq 0 ]; then
            passed=$((passed + 1))
        else
            echo "   $base FAILED (exit status $rc); last lines of $log:"
            tail -n 60 "$log" | sed 's/^/   | /'
            for a in build-fuzz/artifacts/"$name"/*; do
                [ -e "$a" ] && echo "   artifact: $a"
            done
            fail "fuzz: $base (exit status $rc, log $log, inputs in build-fuzz/artifacts/$name/)"
        fi
    done
}

check_lsan "${CC:-cc}"
for c in "$@"; do
    case "$c" in
    release)
        run_config release build -DCMAKE_BUILD_TYPE=Release -DLX_SANITIZE=OFF -DLX_FUZZ=OFF
        ;;
    asan)
        run_config asan build-asan -DLX_SANITIZE=ON -DLX_FUZZ=OFF -DCMAKE_BUILD_TYPE=Debug
        ;;
    fuzz)
        run_fuzz
        ;;
    esac
done

if [ "$failed" -gt 0 ] || [ $((passed + failed)) -eq 0 ]; then
    exit 1
fi
exit 0
