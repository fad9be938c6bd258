/* The disk load of bench/vmm/run --disk, run in the guest on a whole virtio-blk disk with
 * O_DIRECT (the guest's page cache out of the way, so every read and write is a request):
 *
 *   blkbench DEVICE SECONDS
 *
 * 4 KiB random reads for SECONDS, 4 KiB random writes for SECONDS, then 1 MiB sequential reads
 * for SECONDS, one request at a time, and prints one line:
 *   randread_iops=<n> randwrite_iops=<n> seqread_mb_s=<n.n>
 * Static, as nothing else in the guest has a libc. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static uint64_t next(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* Requests of `size` bytes for `seconds`, random or sequential; returns how many completed. */
static long run(int fd, char *buffer, uint64_t disk, size_t size, double seconds, int random, int write_)
{
    uint64_t state = 0x9e3779b97f4a7c15ull, blocks = disk / size, block = 0;
    long done = 0;
    double end = now() + seconds;
    while (now() < end) {
        uint64_t at = (random ? next(&state) % blocks : block++ % blocks) * size;
        ssize_t n = write_ ? pwrite(fd, buffer, size, (off_t)at) : pread(fd, buffer, size, (off_t)at);
        if (n != (ssize_t)size) {
            perror(write_ ? "blkbench: pwrite" : "blkbench: pread");
            exit(1);
        }
        done++;
    }
    return done;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: blkbench DEVICE SECONDS\n");
        return 2;
    }
    double seconds = atof(argv[2]);
    int fd = open(argv[1], O_RDWR | O_DIRECT);
    uint64_t disk = 0;
    char *buffer;
    if (fd < 0 || ioctl(fd, BLKGETSIZE64, &disk) != 0 || disk < (1u << 20)) {
        perror("blkbench: open");
        return 1;
    }
    if (posix_memalign((void **)&buffer, 4096, 1 << 20) != 0)
        return 1;
    for (int i = 0; i < (1 << 20); i++)
        buffer[i] = (char)(i * 7);
    long reads = run(fd, buffer, disk, 4096, seconds, 1, 0);
    long writes = run(fd, buffer, disk, 4096, seconds, 1, 1);
    long sequential = run(fd, buffer, disk, 1 << 20, seconds, 0, 0);
    printf("randread_iops=%ld randwrite_iops=%ld seqread_mb_s=%.1f\n",
           (long)(reads / seconds), (long)(writes / seconds), sequential / seconds);
    return 0;
}
