#!/usr/bin/env bash
# profile_table.sh TEST_OPS — the profile tables of EBM_PROFILE=2 (device time per kernel) and 3 (per
# kernel and global NDRange) for the same ops: level 3 labels every kernel row "name [g0 ...]", the
# implicit convolutions with their three dimensions and output rows, and its launches add up per
# kernel to level 2's.
set -u
ops=${1:?usage: profile_table.sh TEST_OPS}
run() { EBM_CONV=implicit EBM_PROFILE=$1 "$ops" test -o add,conv2d 2>&1 >/dev/null; }
t2=$(run 2) || { echo "FAIL: test_ops with EBM_PROFILE=2"; echo "$t2"; exit 1; }
t3=$(run 3) || { echo "FAIL: test_ops with EBM_PROFILE=3"; echo "$t3"; exit 1; }
echo "$t3"
rows() { echo "$1" | awk '$1 ~ /^[a-z_0-9]+$/ && $2 !~ /^\[/ && $NF ~ /^[0-9.]+$/ && NF >= 5'; }
# level 2: name ms % launches us; level 3: name [g0 x g1 x g2] ms % launches us
sum2=$(rows "$t2" | awk '{print $1, $(NF-1)}' | sort)
sum3=$(echo "$t3" | awk '$2 ~ /^\[/ {n[$1] += $(NF-1)} END {for (k in n) print k, n[k]}' | sort)
echo "$t3" | grep -Eq '^binary \[[0-9]+\] ' || { echo "FAIL: no 'binary [N]' row at EBM_PROFILE=3"; exit 1; }
echo "$t3" | grep -Eq '^conv_implicit_fwd \[[0-9]+ x [0-9]+ x 1\] rows=[0-9]+ ' ||
    { echo "FAIL: no 'conv_implicit_fwd [A x B x 1] rows=R' row at EBM_PROFILE=3"; exit 1; }
if rows "$t3" | grep -q .; then echo "FAIL: a level-3 row without its NDRange:"; rows "$t3"; exit 1; fi
[ -n "$sum2" ] && [ "$sum2" = "$sum3" ] || { echo "FAIL: launches per kernel differ"; diff <(echo "$sum2") <(echo "$sum3"); exit 1; }
echo "ok: $(echo "$sum2" | wc -l) kernels, the same launches at levels 2 and 3"
