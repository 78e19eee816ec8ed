/* c_epoll_echo.c - the native floor for sockit's echo benchmark: one thread,
 * level-triggered epoll, non-blocking sockets, 64 KiB reads, TCP_NODELAY, and
 * a per-connection backlog so partial writes never drop or reorder bytes.
 * UDP mode: a recvfrom/sendto loop.
 * Build: cc -O2 -o c_epoll_echo c_epoll_echo.c
 * Usage: c_epoll_echo tcp|udp PORT [HOST=127.0.0.1]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 65536
#define MAXFD 65536

struct pend { char *data; size_t len, off; };
static struct pend pending[MAXFD];
static char buf[BUF];

static void closefd(int ep, int fd) {
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  free(pending[fd].data);
  pending[fd] = (struct pend){0};
  close(fd);
}

/* Writes what the socket takes; keeps the rest and switches to EPOLLOUT. */
static int send_or_queue(int ep, int fd, const char *p, size_t n) {
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(fd, p + off, n - off);
    if (w > 0) { off += (size_t)w; continue; }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) break;
    return -1;
  }
  if (off < n) {
    struct pend *q = &pending[fd];
    q->data = malloc(n - off);
    memcpy(q->data, p + off, n - off);
    q->len = n - off; q->off = 0;
    struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
  }
  return 0;
}

static void on_writable(int ep, int fd) {
  struct pend *q = &pending[fd];
  while (q->off < q->len) {
    ssize_t w = write(fd, q->data + q->off, q->len - q->off);
    if (w > 0) { q->off += (size_t)w; continue; }
    if (w < 0 && (errno == EAGAIN || errno == EINTR)) return;
    closefd(ep, fd); return;
  }
  free(q->data); *q = (struct pend){0};
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: %s tcp|udp PORT [HOST]\n", argv[0]); return 2; }
  int udp = strcmp(argv[1], "udp") == 0;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  inet_pton(AF_INET, argc > 3 ? argv[3] : "127.0.0.1", &sa.sin_addr);
  int s = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("bind"); return 1; }
  if (udp) {
    for (;;) {
      struct sockaddr_storage peer; socklen_t pl = sizeof peer;
      ssize_t n = recvfrom(s, buf, BUF, 0, (struct sockaddr *)&peer, &pl);
      if (n >= 0) sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&peer, pl);
    }
  }
  listen(s, 4096);
  fcntl(s, F_SETFL, O_NONBLOCK);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = s}, evs[256];
  epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == s) {
        int c;
        while ((c = accept4(s, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          if (c >= MAXFD) { close(c); continue; }
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      if (evs[i].events & EPOLLOUT) { on_writable(ep, fd); continue; }
      ssize_t r = read(fd, buf, BUF);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) { closefd(ep, fd); continue; }
      if (r > 0 && send_or_queue(ep, fd, buf, (size_t)r) < 0) closefd(ep, fd);
    }
  }
}
