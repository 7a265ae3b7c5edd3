/* SPDX-License-Identifier: Apache-2.0 */
/* Write-to-visible delay: POST one incident at a time to one server and
 * time until it is heard on an event stream, the writer's own and another
 * server's on the same database, in turn, so both are measured in one run.
 *
 *   bench_visible --write PORT --listen PORT[,PORT...] --token T [--n 200]
 *
 * Prints, for each listening server, the time from the POST to the
 * acknowledgement and to the event (median, p95, p99, max, in ms). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "bench_visible: port %d: %s\n", port, strerror(errno));
        exit(1);
    }
    return fd;
}

static void send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            fprintf(stderr, "bench_visible: write: %s\n", strerror(errno));
            exit(1);
        }
        p += w;
        n -= (size_t)w;
    }
}

/* One POST on its own connection: the status. */
static int post(int port, const char *token, const char *body) {
    int fd = connect_to(port);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "POST /api/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: Bearer %s\r\nContent-Type: text/csv\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     token, strlen(body));
    send_all(fd, head, (size_t)n);
    send_all(fd, body, strlen(body));
    char buf[4096];
    size_t got = 0;
    ssize_t r;
    while (got + 1 < sizeof buf &&
           (r = read(fd, buf + got, sizeof buf - 1 - got)) > 0) {
        got += (size_t)r;
    }
    buf[got] = '\0';
    close(fd);
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    return status;
}

/* An event stream: the socket, and what it has sent not yet matched. */
typedef struct stream {
    int fd;
    char *buf;
    size_t len, cap;
} stream;

static stream listen_on(int port) {
    stream s = {connect_to(port), malloc(1 << 16), 0, 1 << 16};
    const char *req = "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    send_all(s.fd, req, strlen(req));
    return s;
}

/* Read until @want arrives (true) or @ms pass (false); what came before
 * it is dropped. */
static int wait_for(stream *s, const char *want, int ms) {
    double end = now_ms() + ms;
    for (;;) {
        s->buf[s->len] = '\0';
        char *p = strstr(s->buf, want);
        if (p) {
            size_t keep = s->len - (size_t)(p - s->buf) - strlen(want);
            memmove(s->buf, p + strlen(want), keep);
            s->len = keep;
            return 1;
        }
        if (s->len > s->cap / 2) { /* keep a tail that may hold a start */
            memmove(s->buf, s->buf + s->len - 256, 256);
            s->len = 256;
        }
        int left = (int)(end - now_ms());
        struct pollfd pfd = {s->fd, POLLIN, 0};
        if (left <= 0 || poll(&pfd, 1, left) <= 0) {
            return 0;
        }
        ssize_t r = read(s->fd, s->buf + s->len, s->cap - 1 - s->len);
        if (r <= 0) {
            return 0;
        }
        s->len += (size_t)r;
    }
}

static void report(const char *what, double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp);
    printf("  %-34s median %7.1f  p95 %7.1f  p99 %7.1f  max %7.1f ms\n", what,
           v[n / 2], v[(int)(n * 0.95)], v[(int)(n * 0.99)], v[n - 1]);
}

int main(int argc, char **argv) {
    int wport = 0, n = 200, lports[8], nl = 0;
    const char *token = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--write") == 0) {
            wport = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--listen") == 0) {
            for (char *p = strtok(argv[i + 1], ","); p && nl < 8;
                 p = strtok(NULL, ",")) {
                lports[nl++] = atoi(p);
            }
        } else if (strcmp(argv[i], "--token") == 0) {
            token = argv[i + 1];
        } else if (strcmp(argv[i], "--n") == 0) {
            n = atoi(argv[i + 1]);
        }
    }
    if (!wport || !nl || !token || n < 10) {
        fprintf(stderr,
                "usage: bench_visible --write PORT --listen "
                "PORT[,PORT...] --token T [--n 200]\n");
        return 2;
    }
    stream ss[8];
    double *ack[8], *seen[8];
    for (int k = 0; k < nl; k++) {
        ss[k] = listen_on(lports[k]);
        if (!wait_for(&ss[k], "hutong events", 5000)) {
            fprintf(stderr, "bench_visible: no hello from port %d\n",
                    lports[k]);
            return 1;
        }
        ack[k] = malloc(sizeof(double) * (size_t)n);
        seen[k] = malloc(sizeof(double) * (size_t)n);
    }
    int lost = 0;
    for (int i = 0; i < n * nl; i++) {
        int k = i % nl, j = i / nl;
        char id[64], body[256], when[32], want[96];
        snprintf(id, sizeof id, "visible-%d-%d", (int)getpid(), i);
        time_t t = time(NULL) - 600;
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
        snprintf(body, sizeof body,
                 "id,lon,lat,category,severity,source,status,reported_at\n"
                 "%s,%.5f,%.5f,0101,2,app,reported,%s\n",
                 id, 116.395 + 0.0003 * (i % 50), 39.915 + 0.0003 * (i / 50),
                 when);
        snprintf(want, sizeof want, "\"external_id\":\"%s\"", id);
        double t0 = now_ms();
        int st = post(wport, token, body);
        double t1 = now_ms();
        if (st != 201) {
            fprintf(stderr, "bench_visible: POST answered %d\n", st);
            return 1;
        }
        /* Every stream hears it; the one whose turn it is is timed. */
        int heard = wait_for(&ss[k], want, 5000);
        double t2 = now_ms();
        for (int o = 0; o < nl; o++) {
            if (o != k) {
                wait_for(&ss[o], want, 5000);
            }
        }
        lost += !heard;
        ack[k][j] = t1 - t0;
        seen[k][j] = t2 - t0;
    }
    printf("write-to-visible, %d writes per listener to port %d:\n", n, wport);
    for (int k = 0; k < nl; k++) {
        char what[96];
        snprintf(what, sizeof what, "acknowledged (port %d turn)", lports[k]);
        report(what, ack[k], n);
        snprintf(what, sizeof what, "heard on port %d%s", lports[k],
                 lports[k] == wport ? " (the writer)" : "");
        report(what, seen[k], n);
    }
    if (lost) {
        printf("  %d events not heard within 5 s\n", lost);
    }
    return lost ? 1 : 0;
}
