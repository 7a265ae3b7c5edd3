/* SPDX-License-Identifier: Apache-2.0 */
/* Ingest at a steady rate for the load test: POSTs batches of CSV
 * incidents to a running `hutong serve` on loopback, paced by the clock
 * (not by sleeps after each request), until the time is up or it is
 * stopped, then prints what it achieved and the POST latencies.
 *   bench_ingest --port P --token T [--rate 100] [--batch 10]
 *                [--seconds 30] */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One POST; the status, or -1 when the connection failed. */
static int post(int port, const char *token, const char *body) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "POST /api/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Connection: close\r\nContent-Type: text/csv\r\n"
                      "Authorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n",
                      token, strlen(body));
    int status = -1;
    if (write(fd, head, (size_t)hl) == hl &&
        write(fd, body, strlen(body)) == (ssize_t)strlen(body)) {
        char buf[4096];
        ssize_t n, got = 0;
        while ((n = read(fd, buf + got, sizeof buf - 1 - (size_t)got)) > 0) {
            got += n;
            if ((size_t)got >= sizeof buf - 1) {
                got = 64; /* the status line is all that is needed */
            }
        }
        buf[got] = '\0';
        if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
            status = -1;
        }
    }
    close(fd);
    return status;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int port = 0, batch = 10;
    double rate = 100, seconds = 30;
    const char *token = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0) {
            port = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--token") == 0) {
            token = argv[i + 1];
        } else if (strcmp(argv[i], "--rate") == 0) {
            rate = atof(argv[i + 1]);
        } else if (strcmp(argv[i], "--batch") == 0) {
            batch = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--seconds") == 0) {
            seconds = atof(argv[i + 1]);
        } else {
            fprintf(stderr, "bench_ingest: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (port <= 0 || !token || !(rate > 0) || batch < 1 || batch > 1000) {
        fprintf(stderr,
                "usage: bench_ingest --port P --token T [--rate N] "
                "[--batch N] [--seconds S]\n");
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    double period = batch / rate, t0 = now_s();
    size_t cap = (size_t)(seconds / period) + 16, nlat = 0;
    double *lat = malloc(cap * sizeof *lat);
    char *body = malloc((size_t)batch * 128 + 128);
    long rows = 0, failed = 0;
    unsigned seed = (unsigned)getpid();
    for (long k = 0; !stop && lat; k++) {
        double due = t0 + (double)k * period;
        if (due - t0 >= seconds) {
            break;
        }
        double wait = due - now_s();
        if (wait > 0) {
            struct timespec ts = {(time_t)wait,
                                  (long)((wait - floor(wait)) * 1e9)};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !stop) {
            }
        }
        time_t wall = time(NULL);
        char when[32];
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&wall));
        int off = sprintf(body,
                          "id,lon,lat,category,severity,source,status,"
                          "reported_at\n");
        for (int r = 0; r < batch; r++) {
            /* Spread over the demo district: 116.385..116.432 E,
             * 39.86..39.97 N. */
            double lon = 116.385 + rand_r(&seed) / (double)RAND_MAX * 0.047;
            double la = 39.86 + rand_r(&seed) / (double)RAND_MAX * 0.11;
            off += sprintf(body + off,
                           "ingest-%u-%ld,%.6f,%.6f,0101,1,app,reported,%s\n",
                           (unsigned)getpid(), rows + r, lon, la, when);
        }
        double a = now_s();
        int st = post(port, token, body);
        if (nlat < cap) {
            lat[nlat++] = now_s() - a;
        }
        if (st == 201) {
            rows += batch;
        } else {
            failed++;
        }
    }
    double el = now_s() - t0;
    if (nlat) {
        qsort(lat, nlat, sizeof *lat, cmp_double);
    }
    printf(
        "ingest: %ld incidents in %.1f s = %.1f/s (%zu POSTs of %d, %ld "
        "failed); POST latency median %.1f ms, p99 %.1f ms\n",
        rows, el, rows / el, nlat, batch, failed,
        nlat ? lat[nlat / 2] * 1e3 : 0,
        nlat ? lat[(size_t)(0.99 * (double)(nlat - 1))] * 1e3 : 0);
    free(lat);
    free(body);
    return failed ? 1 : 0;
}
