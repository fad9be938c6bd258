/*
 * How much CPU this guest gets, measured inside it (tests/VSwitch.Tests.Integration/Control/
 * AgentCpuTests.cs): a busy loop that reads CLOCK_MONOTONIC as fast as it can. While the vCPU
 * runs, consecutive reads are microseconds apart; while the host has it descheduled (another
 * VM's turn, or its cgroup's cpu.max quota spent), the guest's clock goes on and the next read
 * finds a gap. So, each second of wall time:
 *
 *   spin SECONDS    prints "VSWITCH-SPIN t=<s> loops=<reads> ran_ms=<ms>", t the wall-clock
 *                   second (CLOCK_REALTIME) the window started in
 *
 * loops counts the work done, which two identical guests compare as their CPU shares; ran_ms
 * sums the steps shorter than GAP_NS, the time the vCPU ran. No libc but the clock and printf,
 * built static into the initramfs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Longer than a guest timer interrupt under nested TCG (a few hundred microseconds), shorter
   than the host's time slice (milliseconds): a step this long is time the vCPU did not run. */
#define GAP_NS 1000000LL

static long long now_ns(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 2 || atoi(argv[1]) <= 0) {
        fprintf(stderr, "usage: spin SECONDS\n");
        return 2;
    }
    int seconds = atoi(argv[1]);
    /* Windows follow the monotonic clock from the start; each is named by the wall-clock second
       it began in, so a guest descheduled for longer than a window still names each one once. */
    long long wall = now_ns(CLOCK_REALTIME), start = now_ns(CLOCK_MONOTONIC), last = start;
    for (int s = 1; s <= seconds; s++) {
        long long end = start + s * 1000000000LL, loops = 0, ran = 0;
        while (last < end) {
            long long t = now_ns(CLOCK_MONOTONIC);
            if (t - last < GAP_NS)
                ran += t - last;
            last = t;
            loops++;
        }
        printf("VSWITCH-SPIN t=%lld loops=%lld ran_ms=%lld\n", (wall + (s - 1) * 1000000000LL) / 1000000000LL, loops, ran / 1000000);
        fflush(stdout);
    }
    return 0;
}
