/*
 * The test guest's 64-byte UDP load (bench/vmm/run --net): busybox has no packet generator, so
 * this is the smallest one that measures a rate, built static into the initramfs.
 *
 *   udpblast send IP PORT SECONDS   send 18-byte datagrams (64-byte Ethernet frames with the
 *                                   FCS: 14 + 20 + 8 + 18 + 4) to IP:PORT for SECONDS;
 *                                   prints "sent=<datagrams> ms=<elapsed>"
 *   udpblast recv PORT SECONDS      count datagrams on PORT from the first one until none came
 *                                   for 3 s, or SECONDS after the first; prints
 *                                   "received=<datagrams> ms=<first to last>"
 *
 * A send that finds the socket buffer full (ENOBUFS, EAGAIN) is retried, not counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int blast(const char *ip, int port, int seconds)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
    if (s < 0 || inet_pton(AF_INET, ip, &to.sin_addr) != 1) {
        perror("udpblast send");
        return 1;
    }
    char payload[18] = "vswitch-udpblast";
    long long start = now_ms(), end = start + seconds * 1000LL, sent = 0;
    while (now_ms() < end) {
        for (int i = 0; i < 64; i++) {
            if (sendto(s, payload, sizeof payload, 0, (struct sockaddr *)&to, sizeof to) == sizeof payload)
                sent++;
            else if (errno != ENOBUFS && errno != EAGAIN) {
                perror("udpblast sendto");
                return 1;
            }
        }
    }
    printf("sent=%lld ms=%lld\n", sent, now_ms() - start);
    return 0;
}

static int sink(int port, int seconds)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in at = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
    int buffer = 4 << 20;
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    if (s < 0 || bind(s, (struct sockaddr *)&at, sizeof at) != 0) {
        perror("udpblast recv");
        return 1;
    }
    char data[2048];
    long long received = 0, first = 0, last = 0;
    /* The sandbox's one emulated CPU can stall a guest for a second: only a longer silence
     * means the sender is done. */
    struct timeval quiet = { .tv_sec = 3 };
    for (;;) {
        ssize_t n = recv(s, data, sizeof data, 0);
        if (n < 0) {
            if (received > 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break; /* 3 s without a datagram: the sender is done */
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue;
            perror("udpblast recv");
            return 1;
        }
        last = now_ms();
        if (received++ == 0) {
            first = last;
            setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &quiet, sizeof quiet);
        }
        if (last - first >= seconds * 1000LL)
            break;
    }
    printf("received=%lld ms=%lld\n", received, last - first);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "send") == 0)
        return blast(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc == 4 && strcmp(argv[1], "recv") == 0)
        return sink(atoi(argv[2]), atoi(argv[3]));
    fprintf(stderr, "usage: udpblast send IP PORT SECONDS | udpblast recv PORT SECONDS\n");
    return 2;
}
