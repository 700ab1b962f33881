/*
 * status-client: the client of `livesync status --json` (issue #4: the whole command in <= 50 ms, which a Node
 * process cannot even start in on a busy 2-core machine). MECHANISM ONLY, no decisions: bin/livesync decides
 * when it is used, which socket it talks to and what runs instead; the daemon formats the text (control method
 * `status-text`, docs/control-protocol.md), so this program only moves bytes.
 *
 *   status-client SOCKET TIMEOUT_MS [FALLBACK ARGS...]
 *
 * Connects to the unix socket SOCKET, sends one request line
 *   {"v":1,"id":1,"method":"status-text","params":{}}
 * reads the one response line, which must be exactly
 *   {"v":1,"id":1,"ok":true,"result":"<JSON string>"}
 * and writes the decoded string (the exact bytes `livesync status --json` prints) to stdout, in full, only once
 * the whole reply is in and understood. Exit 0: printed.
 *
 * Otherwise nothing is printed and the full CLI must answer: no such socket, refused, denied, path too long, no
 * answer within TIMEOUT_MS, an error response or a reply this client does not understand. Then, when FALLBACK
 * is given, it is exec'd as is (execvp, same stdio and environment: bin/livesync passes its Node command line,
 * so the Node CLI's error messages and exit codes are the ones users see, and no shell waits in between);
 * without it, exit 75 (EX_TEMPFAIL). Exit 74 (EX_IOERR): stdout could not be written. Exit 64 (EX_USAGE): bad
 * arguments. Exit 127: FALLBACK could not be run (the reason on stderr).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define EXIT_FALLBACK 75
#define EXIT_OUTPUT 74
#define EXIT_USAGE 64

static const char REQUEST[] = "{\"v\":1,\"id\":1,\"method\":\"status-text\",\"params\":{}}\n";
static const char PREFIX[] = "{\"v\":1,\"id\":1,\"ok\":true,\"result\":\"";
/* what follows the string's closing quote */
static const char SUFFIX[] = "}";
/* the server refuses request lines over 1 Mi characters; a reply is one line of at most ~3 bytes per character */
#define MAX_REPLY (4u << 20)

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` on fd until the deadline. 1: ready, 0: timed out or failed. */
static int wait_fd(int fd, short events, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return 0;
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, (int)left);
    if (r > 0) return 1;
    if (r < 0 && errno != EINTR) return 0;
  }
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Four hex digits at s (bounded by end), or -1. */
static long hex4(const char *s, const char *end) {
  if (end - s < 4) return -1;
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(s[i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

static size_t put_utf8(char *out, uint32_t cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/*
 * Decodes the JSON string starting at s (just after its opening quote) in place, as Node would write it to a
 * stream: UTF-8, a lone surrogate as U+FFFD. Sets *len to the decoded length and returns a pointer just past the
 * closing quote, or NULL when it is not a valid JSON string. Decoding never grows the text, so in place is safe.
 */
static char *decode_string(char *s, char *end, size_t *len) {
  char *const start = s;
  char *out = s;
  while (s < end) {
    unsigned char c = (unsigned char)*s;
    if (c == '"') {
      *len = (size_t)(out - start);
      return s + 1;
    }
    if (c < 0x20) return NULL;
    if (c != '\\') {
      *out++ = *s++;
      continue;
    }
    if (end - s < 2) return NULL;
    char e = s[1];
    s += 2;
    switch (e) {
    case '"': *out++ = '"'; break;
    case '\\': *out++ = '\\'; break;
    case '/': *out++ = '/'; break;
    case 'b': *out++ = '\b'; break;
    case 'f': *out++ = '\f'; break;
    case 'n': *out++ = '\n'; break;
    case 'r': *out++ = '\r'; break;
    case 't': *out++ = '\t'; break;
    case 'u': {
      long u = hex4(s, end);
      if (u < 0) return NULL;
      s += 4;
      uint32_t cp = (uint32_t)u;
      if (cp >= 0xd800 && cp <= 0xdbff && end - s >= 6 && s[0] == '\\' && s[1] == 'u') {
        long lo = hex4(s + 2, end);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
          s += 6;
        }
      }
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd; /* lone surrogate: what Node's UTF-8 encoder writes */
      out += put_utf8(out, cp);
      break;
    }
    default: return NULL;
    }
  }
  return NULL;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* The status answer, or -1 when there is none (nothing printed). */
static int ask(const char *path, int64_t deadline, char **text, size_t *text_len) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return -1;
  memcpy(addr.sun_path, path, strlen(path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  /* non-blocking: a full backlog (a stuck daemon) is EAGAIN here, not a hang */
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) goto fail;

  size_t sent = 0;
  while (sent < sizeof REQUEST - 1) {
    ssize_t w = send(fd, REQUEST + sent, sizeof REQUEST - 1 - sent, MSG_NOSIGNAL);
    if (w > 0) sent += (size_t)w;
    else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_fd(fd, POLLOUT, deadline)) goto fail;
    } else goto fail;
  }

  size_t cap = 64 * 1024, len = 0;
  char *buf = malloc(cap);
  char *nl = NULL;
  if (!buf) goto fail;
  while (!nl) {
    if (len == cap) {
      char *grown = cap < MAX_REPLY ? realloc(buf, cap * 2) : NULL;
      if (!grown) goto fail_buf;
      buf = grown;
      cap *= 2;
    }
    ssize_t r = recv(fd, buf + len, cap - len, 0);
    if (r > 0) {
      nl = memchr(buf + len, '\n', (size_t)r);
      len += (size_t)r;
    } else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_fd(fd, POLLIN, deadline)) goto fail_buf;
    } else goto fail_buf; /* EOF before a whole line, or an error */
  }
  close(fd);

  char *end = nl;
  if (end > buf && end[-1] == '\r') end--;
  size_t plen = sizeof PREFIX - 1;
  if ((size_t)(end - buf) < plen || memcmp(buf, PREFIX, plen) != 0) goto fail_reply;
  char *rest = decode_string(buf + plen, end, text_len);
  if (!rest || (size_t)(end - rest) != sizeof SUFFIX - 1 || memcmp(rest, SUFFIX, sizeof SUFFIX - 1) != 0) goto fail_reply;
  *text = buf + plen;
  return 0;

fail_buf:
  free(buf);
fail:
  close(fd);
  return -1;
fail_reply:
  free(buf);
  return -1;
}

int main(int argc, char **argv) {
  if (argc < 3) return EXIT_USAGE;
  char *endp;
  long timeout = strtol(argv[2], &endp, 10);
  if (*argv[2] == '\0' || *endp != '\0' || timeout <= 0 || timeout > 3600000) return EXIT_USAGE;
  char *text;
  size_t text_len;
  if (ask(argv[1], now_ms() + timeout, &text, &text_len) == 0) return write_all(STDOUT_FILENO, text, text_len) == 0 ? 0 : EXIT_OUTPUT;
  if (argc == 3) return EXIT_FALLBACK;
  execvp(argv[3], argv + 3);
  fprintf(stderr, "livesync: cannot run %s: %s\n", argv[3], strerror(errno));
  return 127;
}
