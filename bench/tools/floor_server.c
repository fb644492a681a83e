// floor_server PORT: the measuring stick of bench/http_bench.sh, the least CPU a server can spend per
// HTTP/1.1 request over epoll. One thread, level-triggered epoll on 127.0.0.1:PORT; per readable
// connection one read(), a count of the request ends ("\r\n\r\n") in what was read, and one write() of as
// many copies of a fixed 200 response. It parses nothing and checks nothing: not a server to use.
//
// The end-of-head matcher keeps its state per connection across reads, so a head split over two reads and
// pipelined heads (many per read) are both counted right. A response that does not fit the socket buffer
// at once (never with the benchmark's 16-deep pipelining) closes the connection and is counted on stderr:
// the floor never queues output.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static const char kResponse[] =
    "HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
enum { kResponseLen = sizeof kResponse - 1, kMaxEvents = 256, kReadSize = 64 * 1024 };

// Bytes of "\r\n\r\n" matched at the end of everything read so far on this connection: 0..3.
static unsigned char* g_matched;
static size_t g_max_fds;

static int count_heads(int fd, const char* data, ssize_t n) {
  static const char kEnd[4] = {'\r', '\n', '\r', '\n'};
  unsigned m = g_matched[fd];
  int heads = 0;
  for (ssize_t i = 0; i < n; i++) {
    if (data[i] == kEnd[m]) {
      if (++m == 4) {
        heads++;
        m = 0;
      }
    } else {
      m = data[i] == '\r';  // a mismatched byte may itself start a new "\r\n\r\n"
    }
  }
  g_matched[fd] = (unsigned char)m;
  return heads;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: floor_server PORT\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  g_max_fds = rl.rlim_cur == RLIM_INFINITY ? (1u << 20) : (size_t)rl.rlim_cur;
  g_matched = calloc(g_max_fds, 1);

  int one = 1;
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(argv[1]));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(listener, 4096) != 0) {
    fprintf(stderr, "floor_server: port %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);

  static char in[kReadSize];
  static char out[kReadSize / 4 * kResponseLen];  // the most a 64 KiB read can ask for ("\r\n\r\n" each)
  struct epoll_event events[kMaxEvents];
  unsigned long short_writes = 0;
  for (;;) {
    int ready = epoll_wait(ep, events, kMaxEvents, -1);
    for (int i = 0; i < ready; i++) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        int c;
        while ((c = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          if ((size_t)c >= g_max_fds) {
            close(c);
            continue;
          }
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          g_matched[c] = 0;
          struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
        }
        continue;
      }
      ssize_t n = read(fd, in, sizeof in);
      if (n <= 0) {
        if (n < 0 && errno == EAGAIN) continue;
        close(fd);  // also leaves the epoll set
        continue;
      }
      int heads = count_heads(fd, in, n);
      if (heads == 0) continue;
      size_t len = (size_t)heads * kResponseLen;
      for (int h = 0; h < heads; h++) memcpy(out + (size_t)h * kResponseLen, kResponse, kResponseLen);
      if (write(fd, out, len) != (ssize_t)len) {
        fprintf(stderr, "floor_server: short write, connection closed (%lu so far)\n", ++short_writes);
        close(fd);
      }
    }
  }
}
