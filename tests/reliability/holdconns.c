// holdconns PORT N [PATH]: opens N keep-alive connections to 127.0.0.1:PORT, source addresses spread over
// 127.0.0.2, 127.0.0.3, ... (10 000 per address, so the ephemeral port range is never the limit), sends one
// GET on each and reads its response, then holds them idle until stdin closes. Prints "held N" once all
// are established and answered, or "failed K: reason" (exit 1) at the first connection that fails.
// Raises its own RLIMIT_NOFILE soft limit to N + 100 (within the hard limit).
// Built by tests/reliability/run.sh.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: holdconns PORT N [PATH]\n");
    return 2;
  }
  int port = atoi(argv[1]), n = atoi(argv[2]);
  const char* path = argc > 3 ? argv[3] : "/plaintext";
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < (rlim_t)n + 100) {
    rl.rlim_cur = (rlim_t)n + 100 <= rl.rlim_max ? (rlim_t)n + 100 : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  char req[512];
  int req_len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
  int* fds = calloc((size_t)n, sizeof(int));
  int answered = 0;
  char buf[4096];
  for (int i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
      printf("failed %d: socket: %s\n", i, strerror(errno));
      return 1;
    }
    struct linger lg = {1, 0};  // close with RST: no TIME_WAIT left to exhaust source ports on the next run
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    // The port is chosen at connect(), not bind(): bind(port 0) searches half the ephemeral range for a
    // port no socket on that address uses, which slows to milliseconds per call past ~14 000 sockets.
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {0};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000002 + i / 10000);
    if (bind(fd, (struct sockaddr*)&src, sizeof src)) {
      printf("failed %d: bind: %s\n", i, strerror(errno));
      return 1;
    }
    struct sockaddr_in dst = {0};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port);
    dst.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (struct sockaddr*)&dst, sizeof dst)) {
      printf("failed %d: connect: %s\n", i, strerror(errno));
      return 1;
    }
    if (write(fd, req, (size_t)req_len) != req_len) {
      printf("failed %d: write: %s\n", i, strerror(errno));
      return 1;
    }
    fds[i] = fd;
    if (i % 500 == 499 || i == n - 1) {  // collect the answers in batches
      for (int j = answered; j <= i; j++) {
        ssize_t r = read(fds[j], buf, sizeof buf);
        if (r <= 0 || memcmp(buf, "HTTP/1.1 200", 12) != 0) {
          printf("failed %d: no answer (%s)\n", j, r < 0 ? strerror(errno) : "closed or not 200");
          return 1;
        }
      }
      answered = i + 1;
    }
  }
  printf("held %d\n", n);
  fflush(stdout);
  while (read(0, buf, sizeof buf) > 0) {
  }
  return 0;
}
