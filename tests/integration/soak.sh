# The soak of `make soak`, shortened for `make check`: apply/revert cycles
# on a busy 64-thread server whose every answer is checked
# (tests/soak/run; SOAK_CHECK_CYCLES, default 500).  Two builds of the patch:
#  - soak-...: answer() compiled with -fno-optimize-sibling-calls: every
#    use of the patch is under a frame of the patch code (crashes, wrong
#    answers, growth of the server);
#  - soak-tail-call: answer() compiled with plain -O2 ends in
#    `jmp snprintf` with a format string in the patch's .rodata: a thread
#    inside snprintf uses the patch with no patch frame on its stack, and a
#    revert must not unmap what it still reads (SOAK_TAIL_CYCLES, default
#    300), with 4 CPU-burning threads so that the server's threads are
#    preempted inside snprintf, as on a loaded machine (on a quiet one the
#    race is rarely hit: 0 crashes in 300 cycles; loaded, 2 of 2 runs crashed
#    by cycle 185, and with the spinners by cycle 144).
# ~20-60 s per 500 cycles on 2 cores, depending on the machine's load.
here=$(cd "$(dirname "$0")" && pwd)
rc=0
SOAK_CYCLES=${SOAK_CHECK_CYCLES:-500} SOAK_PATCH_CFLAGS="-O2 -fno-optimize-sibling-calls" \
	bash "$here/../soak/run" || rc=1
SOAK_CYCLES=${SOAK_TAIL_CYCLES:-300} SOAK_PATCH_CFLAGS="-O2" SOAK_CASE=soak-tail-call SOAK_SPINNERS=4 \
	bash "$here/../soak/run" || rc=1
exit $rc
