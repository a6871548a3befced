#!/bin/sh
# Build one libFuzzer target with clang and run it for a bounded time.
#   run_fuzz.sh NAME WORK_DIR SEED_CORPUS SECONDS SOURCES INCLUDES
# SOURCES and INCLUDES are ';'-separated lists (as CMake writes them).
# New inputs the fuzzer finds go to WORK_DIR/corpus, never into the source tree.
set -eu
name=$1 work=$2 seeds=$3 seconds=$4 sources=$5 includes=$6

clang=""
for candidate in clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14; do
	if command -v "$candidate" >/dev/null 2>&1; then
		clang=$candidate
		break
	fi
done
if [ -z "$clang" ]; then
	echo "fuzz.$name: clang not found (install clang: libFuzzer targets need it)" >&2
	exit 1
fi

mkdir -p "$work/corpus"
set -f
IFS=';'
# shellcheck disable=SC2086
set -- $sources
IFS=' '
flags=""
IFS=';'
for dir in $includes; do
	flags="$flags -I$dir"
done
IFS=' '
# shellcheck disable=SC2086
if ! "$clang" -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all $flags "$@" -o "$work/fuzz_$name"; then
	echo "fuzz.$name: building with $clang failed" >&2
	exit 1
fi
# The first directory receives new inputs; the seeds are only read.
if ! "$work/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
	-artifact_prefix="$work/" "$work/corpus" "$seeds"; then
	echo "fuzz.$name: the fuzzer found a failure; see $work/crash-* and the output above" >&2
	exit 1
fi
