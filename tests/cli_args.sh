#!/usr/bin/env bash
# cli_args.sh EBM — the `ebm` command line itself (no device is opened): every command's --help,
# numbers that are not integers in their range, unknown options, options missing their value, a
# command's options given to another, extra or missing operands, a build without MPI started as
# several MPI ranks. Each is refused with exit status 2 and a message naming the command and the
# option, before anything is read or run.
set -u
EBM=$1
fail() { echo "FAIL: $*"; exit 1; }
n=0

# refused ARGS... -- PATTERN: exit 2, stderr matching PATTERN (grep -E), nothing on stdout
refused() {
  local args=() pat
  while [ "$1" != "--" ]; do args+=("$1"); shift; done
  pat=$2
  out=$("$EBM" "${args[@]}" 2> /tmp/cli_args.$$)
  rc=$?
  err=$(cat /tmp/cli_args.$$)
  rm -f /tmp/cli_args.$$
  [ $rc = 2 ] || fail "ebm ${args[*]}: exit $rc, expected 2 (stderr: $err)"
  [ -z "$out" ] || fail "ebm ${args[*]}: wrote to stdout: $out"
  echo "$err" | grep -Eq -- "$pat" || fail "ebm ${args[*]}: message \"$err\" does not match \"$pat\""
  n=$((n + 1))
}

for cmd in devices train sample eval score; do
  out=$("$EBM" $cmd --help) || fail "ebm $cmd --help: exit $?"
  echo "$out" | head -1 | grep -q "^usage: ebm $cmd$" || fail "ebm $cmd --help: $out"
  echo "$out" | grep -q "^  $cmd " || fail "ebm $cmd --help does not show the command's synopsis"
  out2=$("$EBM" help $cmd) && [ "$out2" = "$out" ] || fail "ebm help $cmd differs from ebm $cmd --help"
done
"$EBM" sample -h | grep -q "^usage: ebm sample$" || fail "ebm sample -h"
echo "ok   --help of devices, train, sample, eval, score (and ebm help CMD, -h)"

# numbers: not a number, trailing text, out of range, overflow
refused sample RUN --n abc -- "ebm sample: --n abc: expected an integer from 1 to 10000000"
refused sample RUN --n 12x -- "--n 12x: expected an integer"
refused sample RUN --n 0 -- "--n 0: expected an integer from 1"
refused eval RUN --n 99999999999999999999 -- "--n 99999999999999999999: expected an integer"
refused eval RUN --n "" -- "--n : expected an integer"
refused sample RUN --steps -1 -- "--steps -1: expected an integer from 0 to"
refused eval RUN --mala 1.5 -- "--mala 1.5: expected an integer"
refused sample RUN --augment-every 1e3 -- "--augment-every 1e3: expected an integer"
refused eval RUN --min-per-mode 0 -- "--min-per-mode 0: expected an integer from 1"
refused sample RUN --seed -3 -- "--seed -3: expected an integer from 0 to 18446744073709551615"
refused eval RUN --seed 18446744073709551616 -- "--seed 18446744073709551616: expected an integer"
refused sample RUN --n=abc -- "--n abc: expected an integer"
refused sample RUN --init zeros -- "--init zeros: expected noise or buffer"
echo "ok   bad numbers and values refused (not a number, trailing text, out of range, overflow, empty)"

refused train configs/x.ini --bogus -- "ebm train: unknown option --bogus"
refused sample RUN --ood -- "ebm sample: --ood is an option of ebm eval"
refused sample RUN --out -- "ebm sample: option --out: missing"
refused score RUN data.csv --overwrite -- "ebm score: unknown option --overwrite"
refused devices -x -- "ebm devices: unknown option -x"
refused train --print-config --overwrite=yes -- "option --overwrite=yes: missing or unexpected value"
refused train a.ini b.ini -- "ebm train: unexpected argument \"b.ini\""
refused sample -- "ebm sample: give a CHECKPOINT"
refused eval RUN OTHER -- "ebm eval: unexpected argument \"OTHER\""
refused score RUN -- "ebm score: give a CHECKPOINT and DATA"
refused score RUN a b -- "ebm score: give a CHECKPOINT and DATA, nothing more"
refused help nosuch -- "ebm help: unknown command \"nosuch\""
refused nosuch -- "ebm: unknown command \"nosuch\""
sets=(); for i in $(seq 0 64); do sets+=(--set run.iters=$i); done
refused train --print-config "${sets[@]}" -- "ebm train: more than 64 --set options"
echo "ok   unknown options, missing values, another command's options, extra and missing operands"

# a build without MPI started as several MPI ranks refuses to run N copies into one folder; one rank runs.
# A build with MPI (tests/mpi_cli.sh tests its training) refuses only the one-process commands.
if ldd "$EBM" 2> /dev/null | grep -q libmpi; then
  for cmd in eval sample; do
    out=$(OMPI_COMM_WORLD_SIZE=2 "$EBM" $cmd RUN 2>&1 >/dev/null); rc=$?
    [ $rc = 2 ] && echo "$out" | grep -q "ebm $cmd: started as one of 2 MPI ranks (OMPI_COMM_WORLD_SIZE=2), but only \`ebm train\` runs data-parallel" ||
      fail "ebm $cmd under 2 Open MPI ranks (a build with MPI): exit $rc, $out"
  done
else
for cmd in train eval; do
  out=$(OMPI_COMM_WORLD_SIZE=2 "$EBM" $cmd RUN 2>&1 >/dev/null); rc=$?
  [ $rc = 2 ] && echo "$out" | grep -q "ebm $cmd: started as one of 2 MPI ranks (OMPI_COMM_WORLD_SIZE=2), but this ebm is built without MPI" ||
    fail "ebm $cmd under 2 Open MPI ranks: exit $rc, $out"
done
out=$(PMI_SIZE=4 "$EBM" train --print-config 2>&1 >/dev/null); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "one of 4 MPI ranks (PMI_SIZE=4)" || fail "ebm train under 4 Hydra ranks: exit $rc, $out"
fi
OMPI_COMM_WORLD_SIZE=1 PMI_SIZE=1 "$EBM" train --print-config > /dev/null || fail "ebm train as a single MPI rank refused"
echo "ok   a build without MPI refuses to run as several MPI ranks (Open MPI, Hydra) and runs as one (with MPI: eval, sample refused)"

# options after operands, --name=value, and -- before an operand that starts with a dash
out=$("$EBM" train --print-config --set=run.iters=7 | grep "^iters") && [ "$out" = "iters = 7" ] || fail "--set=VALUE: $out"
out=$("$EBM" train --set run.batch=3 --print-config | grep "^batch =") && [ "$out" = "batch = 3" ] || fail "options in any order: $out"
err=$("$EBM" sample -- -odd 2>&1 >/dev/null); rc=$?
[ $rc = 1 ] && echo "$err" | grep -q -- "-odd/checkpoint.safetensors" || fail "sample -- -odd: exit $rc, $err"
echo "ok   --name=value, options in any order, -- before an operand starting with a dash"
echo "$n refusals checked"
