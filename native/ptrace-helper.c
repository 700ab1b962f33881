/*
 * ptrace-helper: the mechanism under `livesync` process freeze/re-point/thaw (src/sys/ptrace.ts drives it).
 * MECHANISM ONLY, no decisions: which processes, fds, flags, offsets and in which order all come from
 * TypeScript as commands on stdin (one line each, one answer line on stdout).
 *
 *   hello                          -> ok <pid> <vdso-syscall-offset>
 *   kcmp <n> {pid1 pid2 type i1 i2}  -> ok r...            kcmp(2) results or -errno
 *   seize <n> {pid flags}          -> ok pid=tid,tid|pid=!errno ...  SEIZE+INTERRUPT every thread (re-listed
 *                                     until stable); flags bit 0 = PTRACE_O_SUSPEND_SECCOMP
 *   wait <ms>                      -> ok {tid:tgid:S|G|R|X}  until every tracee stops (S), group-stops (G),
 *                                     is gone (X) or the time is up (R = still running)
 *   detach <n> {tid}               -> ok {tid:rc}          ends an open session first, re-raises held signals
 *   batch <n> ops...               -> ok {value|!errno|s}  ops run in order (below)
 *   fh2path <dirhex> <n> {type hex} -> ok {pathhex|!errno} open_by_handle_at + readlink
 * Batch ops (args: integer, or $k = value of op k; an op whose $k or ^k failed is skipped, "s"):
 *   O tid vdso size   open an injection session: save regs, find a syscall instruction, mmap a scratch area
 *   S tid nr a0..a5   inject one syscall (regs set at a syscall instruction, single-step to its exit)
 *   W tid addr hex    write target memory        R tid addr 4|8   read an integer from target memory
 *   G pid fd          pidfd_getfd into helper    X chan fd        sendmsg(SCM_RIGHTS) from helper
 *   C fd              close a helper fd          E tid            munmap scratch, restore regs, end session
 * Death: EOF on stdin, SIGTERM/SIGHUP or the parent's death (PR_SET_PDEATHSIG) end the helper after the
 * current command; the kernel then detaches every tracee and they run again. x86-64 only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "ptrace-helper supports x86-64 only"
#endif

enum { T_RUNNING, T_STOPPED, T_GROUP, T_GONE };
#define MAXSIG 8
typedef struct {
  pid_t tid, tgid;
  int state, fresh, in_sigstop, in_session, nsig;
  struct user_regs_struct saved;
  unsigned long sysip, scratch, scratch_len;
  siginfo_t sig[MAXSIG];
} tracee;

static tracee *tr;
static int ntr, captr;
static volatile sig_atomic_t quit_requested;
static int sigchld_fd = -1;
static long vdso_off = -1;
static char *out;
static size_t outlen, outcap;

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void put(const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(out + outlen, outcap - outlen, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < outcap - outlen) { outlen += (size_t)n; return; }
    outcap = outcap * 2 + (size_t)n + 64;
    out = realloc(out, outcap);
    if (!out) _exit(70);
  }
}

static void put_hex(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) put("%02x", p[i]);
}

static int unhex(const char *s, unsigned char *dst, size_t max) {
  size_t n = strlen(s);
  if (n % 2 || n / 2 > max) return -1;
  for (size_t i = 0; i < n / 2; i++) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1) return -1;
    dst[i] = (unsigned char)v;
  }
  return (int)(n / 2);
}

static tracee *find(pid_t tid) {
  for (int i = 0; i < ntr; i++) if (tr[i].tid == tid) return &tr[i];
  return NULL;
}

static pid_t tgid_of(pid_t tid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/status", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return tid;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n > 0 ? n : 0] = 0;
  char *p = strstr(buf, "\nTgid:");
  return p ? (pid_t)atoi(p + 6) : tid;
}

static tracee *add(pid_t tid, pid_t tgid) {
  tracee *t = find(tid);
  if (t) return t;
  if (ntr == captr) {
    captr = captr ? captr * 2 : 64;
    tr = realloc(tr, (size_t)captr * sizeof *tr);
    if (!tr) _exit(70);
  }
  t = &tr[ntr++];
  memset(t, 0, sizeof *t);
  t->tid = tid;
  t->tgid = tgid > 0 ? tgid : tgid_of(tid);
  t->state = T_RUNNING;
  return t;
}

static void drop(tracee *t) { *t = tr[--ntr]; }

static void hold_signal(tracee *t) {
  siginfo_t si;
  if (ptrace(PTRACE_GETSIGINFO, t->tid, 0, &si) == 0 && t->nsig < MAXSIG) t->sig[t->nsig++] = si;
}

/* ---- freeze: seize + interrupt, then wait until every tracee is in an interrupt stop ---- */

static int seize_one(pid_t tid, pid_t tgid, long opts) {
  if (ptrace(PTRACE_SEIZE, tid, 0, opts) != 0) return -errno;
  if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0) { int e = errno; ptrace(PTRACE_DETACH, tid, 0, 0); return -e; }
  add(tid, tgid);
  return 0;
}

static void cmd_seize(int n, char **arg) {
  put("ok");
  for (int i = 0; i < n; i++) {
    pid_t pid = atoi(arg[2 * i]);
    long opts = PTRACE_O_TRACEFORK | PTRACE_O_TRACECLONE;
    if (atoi(arg[2 * i + 1]) & 1) opts |= PTRACE_O_SUSPEND_SECCOMP;
    int rc = find(pid) ? 0 : seize_one(pid, pid, opts);
    if (rc) { put(" %d=!%d", pid, -rc); continue; }
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", pid);
    for (int pass = 0, added = 1; added && pass < 1000; pass++) {  /* threads made meanwhile: list again */
      added = 0;
      DIR *d = opendir(dir);
      if (!d) break;
      for (struct dirent *e; (e = readdir(d));) {
        pid_t tid = atoi(e->d_name);
        if (tid > 0 && !find(tid) && seize_one(tid, pid, opts) == 0) added++;
      }
      closedir(d);
    }
    put(" %d=", pid);
    int first = 1;
    for (int j = 0; j < ntr; j++)
      if (tr[j].tgid == pid) { put(first ? "%d" : ",%d", tr[j].tid); first = 0; }
  }
}

static void on_stop(pid_t tid, int st) {
  tracee *t = find(tid);
  if (WIFEXITED(st) || WIFSIGNALED(st)) { if (t) t->state = T_GONE; return; }
  if (!WIFSTOPPED(st)) return;
  if (!t) { t = add(tid, 0); t->fresh = 1; }  /* auto-attached child reported before its parent's event */
  int sig = WSTOPSIG(st), ev = st >> 16;
  if (ev == PTRACE_EVENT_STOP) {
    int group = !t->fresh && (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU);
    t->state = group ? T_GROUP : T_STOPPED;
    t->fresh = 0;
    t->in_sigstop = 0;
    return;
  }
  if (ev == PTRACE_EVENT_FORK || ev == PTRACE_EVENT_VFORK || ev == PTRACE_EVENT_CLONE) {
    unsigned long child = 0;
    if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &child) == 0 && child && !find((pid_t)child))
      add((pid_t)child, ev == PTRACE_EVENT_CLONE ? 0 : (pid_t)child)->fresh = 1;
  }
  /* any other trap consumed the pending interrupt: re-arm it, let a signal be delivered (its handler only
     runs after the thaw, the interrupt traps first) */
  ptrace(PTRACE_INTERRUPT, tid, 0, 0);
  t->state = T_RUNNING;
  if (ptrace(PTRACE_CONT, tid, 0, ev == 0 ? sig : 0) != 0 && errno == ESRCH) t->state = T_GONE;
}

static void reap_ready(void) {
  struct signalfd_siginfo si;
  while (read(sigchld_fd, &si, sizeof si) > 0) {}
  for (int st; ;) {
    pid_t w = waitpid(-1, &st, __WALL | WNOHANG);
    if (w <= 0) break;
    on_stop(w, st);
  }
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cmd_wait(long timeout_ms) {
  long deadline = now_ms() + timeout_ms;
  for (;;) {
    reap_ready();
    int running = 0;
    for (int i = 0; i < ntr; i++) running += tr[i].state == T_RUNNING;
    long left = deadline - now_ms();
    if (!running || left <= 0) break;
    struct pollfd p[2] = {{sigchld_fd, POLLIN, 0}, {0, POLLRDHUP, 0}};
    if (poll(p, 2, (int)(left > 50 ? 50 : left)) > 0 && (p[1].revents & (POLLHUP | POLLRDHUP | POLLERR))) _exit(0);
  }
  put("ok");
  for (int i = 0; i < ntr; i++) put(" %d:%d:%c", tr[i].tid, tr[i].tgid, "SGRX"[tr[i].state == T_STOPPED ? 0 : tr[i].state == T_GROUP ? 1 : tr[i].state == T_RUNNING ? 2 : 3]);
}

/* ---- injection ---- */

static int step_syscall(tracee *t, struct user_regs_struct *r) {
  for (int tries = 0; tries < 64; tries++) {
    if (ptrace(PTRACE_SINGLESTEP, t->tid, 0, 0) != 0) return -errno;
    int st;
    if (waitpid(t->tid, &st, __WALL) < 0) return -errno;
    if (WIFEXITED(st) || WIFSIGNALED(st)) { t->state = T_GONE; return -ESRCH; }
    if (!WIFSTOPPED(st)) continue;
    int sig = WSTOPSIG(st), ev = st >> 16;
    if (ev != 0) continue;                   /* a stale interrupt trap before the step: step again */
    t->in_sigstop = 1;
    if (sig == SIGTRAP) {
      if (ptrace(PTRACE_GETREGS, t->tid, 0, r) != 0) return -errno;
      if (r->rip == t->sysip + 2) return 0;  /* the syscall ran; r->rax is its result */
    }
    hold_signal(t);                          /* a signal arrived meanwhile: held, re-raised at detach */
  }
  return -EAGAIN;
}

static long inject(tracee *t, long nr, const long *a, int *ok) {
  struct user_regs_struct r = t->saved;
  r.rax = (unsigned long)nr;
  r.orig_rax = (unsigned long)-1;  /* no restart fix-up while our registers are in place */
  r.rip = t->sysip;
  r.rdi = (unsigned long)a[0], r.rsi = (unsigned long)a[1], r.rdx = (unsigned long)a[2];
  r.r10 = (unsigned long)a[3], r.r8 = (unsigned long)a[4], r.r9 = (unsigned long)a[5];
  *ok = 0;
  if (ptrace(PTRACE_SETREGS, t->tid, 0, &r) != 0) return -errno;
  int rc = step_syscall(t, &r);
  if (rc) return rc;
  long v = (long)r.rax;
  *ok = !(v < 0 && v > -4096);
  return v;
}

static long session_end(tracee *t) {
  if (!t->in_session) return -EINVAL;
  int ok;
  if (t->scratch) { long a[6] = {(long)t->scratch, (long)t->scratch_len, 0, 0, 0, 0}; inject(t, SYS_munmap, a, &ok); }
  t->in_session = 0;
  t->scratch = 0;
  return ptrace(PTRACE_SETREGS, t->tid, 0, &t->saved) ? -errno : 0;
}

static long session_open(tracee *t, unsigned long vdso, unsigned long size, int *ok) {
  *ok = 0;
  if (t->state != T_STOPPED || t->in_session) return -EBUSY;
  if (ptrace(PTRACE_GETREGS, t->tid, 0, &t->saved) != 0) return -errno;
  if (t->saved.cs != 0x33) return -ENOEXEC;  /* not a 64-bit task */
  t->sysip = 0;
  errno = 0;
  long w = (long)t->saved.orig_rax >= 0 ? ptrace(PTRACE_PEEKTEXT, t->tid, t->saved.rip - 2, 0) : 0;
  if (!errno && (w & 0xffff) == 0x050f) t->sysip = t->saved.rip - 2;
  if (!t->sysip && vdso && vdso_off >= 0) {
    errno = 0;
    w = ptrace(PTRACE_PEEKTEXT, t->tid, vdso + (unsigned long)vdso_off, 0);
    if (!errno && (w & 0xffff) == 0x050f) t->sysip = vdso + (unsigned long)vdso_off;
  }
  if (!t->sysip) return -ENOEXEC;
  t->in_session = 1;
  t->scratch_len = size;
  if (!size) { *ok = 1; return 0; }
  long a[6] = {0, (long)size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0};
  long v = inject(t, SYS_mmap, a, ok);
  if (*ok) t->scratch = (unsigned long)v;
  else session_end(t);
  return v;
}

static long mem(pid_t pid, unsigned long addr, void *buf, size_t n, int write) {
  struct iovec local = {buf, n}, remote = {(void *)addr, n};
  ssize_t r = write ? process_vm_writev(pid, &local, 1, &remote, 1, 0) : process_vm_readv(pid, &local, 1, &remote, 1, 0);
  return r == (ssize_t)n ? 0 : r < 0 ? -errno : -EIO;
}

static long send_fd(int chan, int fd) {
  char byte = 0, ctl[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {&byte, 1};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return sendmsg(chan, &m, 0) == 1 ? 0 : -errno;
}

static long get_fd(pid_t pid, int fd) {
  int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pfd < 0) return -errno;
  long r = syscall(SYS_pidfd_getfd, pfd, fd, 0);
  if (r < 0) r = -errno;
  close(pfd);
  return r;
}

#include "ptrace-helper-main.inc"
