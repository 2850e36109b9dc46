/* Synthetic RTP load for bench/media_bench.py: N calls at 50 packets/s each.
 *
 *   rtpload SECONDS PORT...      (one call per port on 127.0.0.1)
 *
 * Opens one UDP socket per call and prints its local ports as one line
 * ("ports P1 P2 ...") so the server can accept them (symmetric RTP), then waits
 * for a line on stdin before sending. Each call sends a 172-byte PCMU packet
 * (RFC 3550 header, payload type 0) every 20 ms, the calls' phases spread evenly
 * over the 20 ms. The payload carries the call, its sequence number and the send
 * time, each 4-bit digit stored as 0x10|digit: such bytes survive a G.711 mu-law
 * decode and re-encode, so an echo that decodes and encodes returns them intact.
 * Echoed packets give loss, round-trip latency and the interval between a call's
 * returning packets; the figures are printed as one JSON line at the end. Loss
 * counts the whole run; latency and intervals leave out the first second (every
 * call starting in the same 20 ms is a burst no real system sees).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRAME_NS 20000000LL
#define PAYLOAD 160
#define STAMP_DIGITS 32 /* 128 bits: call (32), sequence (32), send time in ns (64) */
#define LATENCY_BUCKETS 50000 /* 0.1 ms each, up to 5 s */
#define INTERVAL_BUCKETS 100000 /* 0.01 ms each, up to 1 s */
#define MAX_SECONDS 600
#define WARMUP_NS 1000000000LL

struct call {
    int fd;
    uint32_t sent;
    int64_t last_arrival;
    struct sockaddr_in target;
};

static uint64_t latency_hist[LATENCY_BUCKETS];
static uint64_t interval_hist[INTERVAL_BUCKETS];
/* Per second of the run: latency histogram in 1 ms buckets (flatness over time). */
static uint32_t per_second[MAX_SECONDS][1000];

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void put_digits(uint8_t *out, uint64_t value, int digits) {
    for (int i = digits - 1; i >= 0; i--) {
        out[i] = 0x10 | (value & 0x0F);
        value >>= 4;
    }
}

static int get_digits(const uint8_t *in, int digits, uint64_t *value) {
    uint64_t v = 0;
    for (int i = 0; i < digits; i++) {
        if ((in[i] & 0xF0) != 0x10)
            return -1;
        v = (v << 4) | (in[i] & 0x0F);
    }
    *value = v;
    return 0;
}

static double percentile(const uint64_t *hist, int buckets, uint64_t total, double p,
                         double unit) {
    if (total == 0)
        return -1;
    uint64_t rank = (uint64_t)(p * (double)(total - 1)), seen = 0;
    for (int i = 0; i < buckets; i++) {
        seen += hist[i];
        if (seen > rank)
            return i * unit;
    }
    return buckets * unit;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: rtpload SECONDS PORT...\n");
        return 2;
    }
    double seconds = atof(argv[1]);
    int n = argc - 2;
    if (seconds <= 0 || seconds > MAX_SECONDS) {
        fprintf(stderr, "rtpload: SECONDS must be in (0, %d]\n", MAX_SECONDS);
        return 2;
    }
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);

    struct call *calls = calloc(n, sizeof *calls);
    int ep = epoll_create1(0);
    printf("ports");
    for (int i = 0; i < n; i++) {
        struct sockaddr_in local = {.sin_family = AF_INET};
        local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        calls[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        if (calls[i].fd < 0 || bind(calls[i].fd, (struct sockaddr *)&local, sizeof local)) {
            perror("rtpload: socket");
            return 1;
        }
        int size = 1 << 20;
        setsockopt(calls[i].fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        socklen_t len = sizeof local;
        getsockname(calls[i].fd, (struct sockaddr *)&local, &len);
        printf(" %d", ntohs(local.sin_port));
        calls[i].target.sin_family = AF_INET;
        calls[i].target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        calls[i].target.sin_port = htons((uint16_t)atoi(argv[2 + i]));
        struct epoll_event event = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, calls[i].fd, &event);
    }
    printf("\n");
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof line, stdin))
        return 1;

    uint8_t packet[12 + PAYLOAD];
    memset(packet, 0x55, sizeof packet);
    uint64_t sent = 0, received = 0, garbled = 0, latency_total = 0, interval_total = 0;
    int64_t start = now_ns();
    int64_t end = start + (int64_t)(seconds * 1e9);
    int64_t drain_end = end + 300000000LL; /* last echoes: 0.3 s */
    uint64_t slot = 0; /* the next (frame, call) to send: frame = slot / n, call = slot % n */
    struct epoll_event events[256];
    for (;;) {
        int64_t now = now_ns();
        /* Send every packet whose time has come. */
        for (;;) {
            int64_t due = start + (int64_t)(slot / n) * FRAME_NS + (int64_t)(slot % n) * FRAME_NS / n;
            if (due > now || due >= end)
                break;
            struct call *c = &calls[slot % n];
            uint32_t seq = c->sent;
            packet[0] = 0x80;
            packet[1] = 0;
            packet[2] = (uint8_t)(seq >> 8);
            packet[3] = (uint8_t)seq;
            uint32_t ts = htonl(seq * 160), ssrc = htonl((uint32_t)(slot % n) + 1);
            memcpy(packet + 4, &ts, 4);
            memcpy(packet + 8, &ssrc, 4);
            put_digits(packet + 12, slot % n, 8);
            put_digits(packet + 20, seq, 8);
            put_digits(packet + 28, (uint64_t)(now_ns() - start), 16);
            if (sendto(c->fd, packet, sizeof packet, 0, (struct sockaddr *)&c->target,
                       sizeof c->target) == sizeof packet) {
                c->sent++;
                sent++;
            }
            slot++;
        }
        if (now >= drain_end)
            break;
        int64_t next = start + (int64_t)(slot / n) * FRAME_NS + (int64_t)(slot % n) * FRAME_NS / n;
        if (next >= end)
            next = drain_end;
        int timeout = next > now ? (int)((next - now) / 1000000) : 0;
        int ready = epoll_wait(ep, events, 256, timeout);
        for (int e = 0; e < ready; e++) {
            struct call *c = &calls[events[e].data.u32];
            uint8_t in[2048];
            ssize_t got;
            while ((got = recv(c->fd, in, sizeof in, 0)) > 0) {
                int64_t arrival = now_ns();
                uint64_t call, seq, stamp;
                if (got < 12 + STAMP_DIGITS || get_digits(in + 12, 8, &call) ||
                    get_digits(in + 20, 8, &seq) || get_digits(in + 28, 16, &stamp) ||
                    call != events[e].data.u32) {
                    garbled++;
                    continue;
                }
                received++;
                if ((int64_t)stamp < WARMUP_NS) {
                    c->last_arrival = 0;
                    continue;
                }
                int64_t rtt = arrival - start - (int64_t)stamp;
                int64_t bucket = rtt / 100000;
                latency_hist[bucket < LATENCY_BUCKETS ? bucket : LATENCY_BUCKETS - 1]++;
                latency_total++;
                int64_t second = (arrival - start) / 1000000000LL;
                if (second < MAX_SECONDS)
                    per_second[second][rtt / 1000000 < 1000 ? rtt / 1000000 : 999]++;
                if (c->last_arrival) {
                    int64_t error = llabs(arrival - c->last_arrival - FRAME_NS) / 10000;
                    interval_hist[error < INTERVAL_BUCKETS ? error : INTERVAL_BUCKETS - 1]++;
                    interval_total++;
                }
                c->last_arrival = arrival;
            }
        }
    }
    printf("{\"calls\": %d, \"sent\": %llu, \"received\": %llu, \"garbled\": %llu, "
           "\"latency_p50_ms\": %.2f, \"latency_p99_ms\": %.2f, "
           "\"interval_error_p50_ms\": %.2f, \"interval_error_p99_ms\": %.2f, "
           "\"latency_p50_ms_per_second\": [",
           n, (unsigned long long)sent, (unsigned long long)received,
           (unsigned long long)garbled,
           percentile(latency_hist, LATENCY_BUCKETS, latency_total, 0.5, 0.1),
           percentile(latency_hist, LATENCY_BUCKETS, latency_total, 0.99, 0.1),
           percentile(interval_hist, INTERVAL_BUCKETS, interval_total, 0.5, 0.01),
           percentile(interval_hist, INTERVAL_BUCKETS, interval_total, 0.99, 0.01));
    int whole = (int)seconds;
    for (int s = 0; s < whole; s++) {
        uint64_t hist[1000], total = 0;
        for (int i = 0; i < 1000; i++) {
            hist[i] = per_second[s][i];
            total += hist[i];
        }
        printf("%s%.0f", s ? ", " : "", percentile(hist, 1000, total, 0.5, 1.0));
    }
    printf("]}\n");
    return 0;
}
