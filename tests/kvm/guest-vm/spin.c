/*
 * How much CPU this guest gets, measured inside it (tests/VSwitch.Tests.Integration/Control/
 * AgentCpuTests.cs): a busy loop that reads CLOCK_MONOTONIC as fast as it can. While the vCPU
 * runs, consecutive reads are microseconds apart; while the host has it descheduled (another
 * VM's turn, or its cgroup's cpu.max quota spent), the guest's clock goes on and the next read
 * finds a gap. So, each second of wall time:
 *
 *   spin SECONDS    prints "VSWITCH-SPIN t=<s> loops=<reads> ran_ms=<ms> steal_ms=<ms>", t the
 *                   wall-clock second (CLOCK_REALTIME) the window started in
 *
 * loops counts the work done, which two identical guests compare as their CPU shares; ran_ms
 * sums the steps shorter than GAP_NS, the time the vCPU ran. steal_ms is what the host told the
 * guest it stole in the window (KVM steal time: the vCPU thread runnable but not running, or its
 * group out of quota), from the steal field of /proc/stat's cpu line, in 10 ms units: the window
 * less it is the CPU time the guest got, by the guest's own books. No libc but the clock, stdio
 * and /proc, built static into the initramfs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Longer than a guest timer interrupt under nested TCG (a few hundred microseconds), shorter
   than the host's time slice (milliseconds): a step this long is time the vCPU did not run. */
#define GAP_NS 1000000LL

/* The steal field (the 8th number) of /proc/stat's "cpu" line, in milliseconds; -1 if unreadable. */
static long long steal_ms(void)
{
    FILE *stat = fopen("/proc/stat", "r");
    if (!stat)
        return -1;
    unsigned long long f[8];
    int n = fscanf(stat, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7]);
    fclose(stat);
    return n == 8 ? (long long)f[7] * 10 : -1; /* USER_HZ is 100 */
}

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
    long long wall = now_ns(CLOCK_REALTIME), start = now_ns(CLOCK_MONOTONIC), last = start, stolen = steal_ms();
    for (int s = 1; s <= seconds; s++) {
        long long end = start + s * 1000000000LL, loops = 0, ran = 0;
        while (last < end) {
            long long t = now_ns(CLOCK_MONOTONIC);
            if (t - last < GAP_NS)
                ran += t - last;
            last = t;
            loops++;
        }
        long long stolen_now = steal_ms();
        printf("VSWITCH-SPIN t=%lld loops=%lld ran_ms=%lld steal_ms=%lld\n", (wall + (s - 1) * 1000000000LL) / 1000000000LL, loops, ran / 1000000,
               stolen < 0 || stolen_now < 0 ? -1 : stolen_now - stolen);
        stolen = stolen_now;
        fflush(stdout);
    }
    return 0;
}
