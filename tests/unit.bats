#!/usr/bin/env bats
# The C unit tests of the runtime's pure helpers (tests/unit/unit.c).
load helpers

@test "unit: parsers, id maps, user-namespace diagnosis, rm -rf" {
  bin="$BATS_TEST_DIRNAME/../out/unit-tests"
  [ -x "$bin" ] || skip "$bin is built by ./build.sh test"
  run "$bin"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ ${lines[-1]} == *" passed, 0 failed" ]]
}
