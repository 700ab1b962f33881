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
 * Consecutive S/R/W ops on one thread run in one go when possible: a small position-independent sequencer
 * (below) is copied into the scratch area and executes their syscalls in a row, stopping at the first error
 * (then the remaining ops run one by one as above, so results are the same, only fewer stops).
 * An injection not done after INJECT_TIMEOUT_MS is interrupted: the op fails with ETIMEDOUT, registers are
 * restored at the session's end, and every later injection into that thread fails at once.
 * Death: EOF on stdin, SIGTERM/SIGHUP or the parent's death (PR_SET_PDEATHSIG) end the helper after the
 * current command; the kernel then detaches every tracee and they run again. x86-64 only.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
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
  int state, fresh, in_sigstop, in_session, nsig, stuck;  /* stuck: an injection timed out, no more */
  struct user_regs_struct saved;
  unsigned long sysip, scratch, scratch_len, seq;  /* seq: sequencer code in the scratch area, 0 if none */
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

static char state_of(pid_t tid) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/%d/stat", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n > 0 ? n : 0] = 0;
  char *p = strrchr(buf, ')');
  return p && p[1] ? p[2] : 0;
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
    if (rc == -EPERM && state_of(pid) == 'Z') rc = 0;  /* leader exited, other threads may live on */
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
    t = find(tid);  /* add() may have moved the table */
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

/* How long an injected syscall (or a sequence of them) may take before the thread is interrupted: a frozen
   cgroup never runs it, a hung filesystem may never return. */
#define INJECT_TIMEOUT_MS 3000

/* waitpid() for a tracee we resumed. On timeout: interrupt it, wait for that stop, mark it stuck; returns 1. */
static int wait_resumed(tracee *t, int *st) {
  long deadline = now_ms() + INJECT_TIMEOUT_MS;
  for (;;) {
    pid_t w = waitpid(t->tid, st, __WALL | WNOHANG);
    if (w == t->tid) return 0;
    if (w < 0 && errno != EINTR) return -errno;
    long left = deadline - now_ms();
    if (left <= 0) break;
    struct pollfd p = {sigchld_fd, POLLIN, 0};
    struct signalfd_siginfo si;
    if (poll(&p, 1, (int)(left > 100 ? 100 : left)) > 0) while (read(sigchld_fd, &si, sizeof si) > 0) {}
  }
  t->stuck = 1;  /* its stop comes only once the syscall returns: in D state, that is when it returns */
  ptrace(PTRACE_INTERRUPT, t->tid, 0, 0);
  for (;;) {
    pid_t w = waitpid(t->tid, st, __WALL);
    if (w == t->tid) return 1;
    if (w < 0 && errno != EINTR) return -errno;
  }
}

static int step_syscall(tracee *t, struct user_regs_struct *r) {
  for (int tries = 0; tries < 64; tries++) {
    if (ptrace(PTRACE_SINGLESTEP, t->tid, 0, 0) != 0) return -errno;
    int st, late = wait_resumed(t, &st);
    if (late < 0) return late;
    if (WIFEXITED(st) || WIFSIGNALED(st)) { t->state = T_GONE; return -ESRCH; }
    if (!WIFSTOPPED(st)) continue;
    int sig = WSTOPSIG(st), ev = st >> 16;
    if (ev == 0) t->in_sigstop = 1;
    else t->in_sigstop = 0;
    if (ev == 0 && sig == SIGTRAP) {
      if (ptrace(PTRACE_GETREGS, t->tid, 0, r) != 0) return -errno;
      if (r->rip == t->sysip + 2) return t->stuck = 0;  /* the syscall ran; r->rax is its result */
    }
    if (ev == 0) hold_signal(t);             /* a signal arrived meanwhile: held, re-raised at detach */
    if (late) return -ETIMEDOUT;             /* it did not run (or was interrupted): registers restored later */
    /* else a stale interrupt trap before the step: step again */
  }
  return -EAGAIN;
}

static long inject(tracee *t, long nr, const long *a, int *ok) {
  *ok = 0;
  if (t->stuck) return -ETIMEDOUT;
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

/* ---- the sequencer: records {nr, arg[6], ref[6]} (ref >= 0: take the result of that record), results[] ----
   entry: r12 = records, r13 = results, r14 = count; exit: int3 with r15 = records done (the failing one if
   r15 < count). nr -2 = load the int32 at arg0. Uses no stack. */
#define SEQ_REC 13  /* longs per record */
#define SEQ_CAP 480
#define SEQ_AREA (65536UL)
#define SEQ_CODE 512  /* code, then records, then results */
#define ARG(i, reg)                                                                       \
  "  mov " #i "*8+56(%r12), %rcx\n  test %rcx, %rcx\n  js 1" #i "f\n"                      \
  "  mov (%r13,%rcx,8), %" #reg "\n  jmp 2" #i "f\n1" #i ": mov " #i "*8+8(%r12), %" #reg "\n2" #i ":\n"
extern const unsigned char seq_code[], seq_trap[];
__asm__(".pushsection .rodata\n.globl seq_code\n.globl seq_trap\nseq_code:\n"
        "  xor %r15, %r15\n"
        "3: cmp %r14, %r15\n  jae seq_trap\n"
        ARG(0, rdi) ARG(1, rsi) ARG(2, rdx) ARG(3, r10) ARG(4, r8) ARG(5, r9)
        "  mov (%r12), %rax\n  cmp $-2, %rax\n  je 4f\n"
        "  syscall\n  mov %rax, (%r13,%r15,8)\n  cmp $-4095, %rax\n  jae seq_trap\n  jmp 5f\n"
        "4: movslq (%rdi), %rax\n  mov %rax, (%r13,%r15,8)\n"
        "5: inc %r15\n  add $104, %r12\n  jmp 3b\n"
        "seq_trap: int3\n.popsection\n");

static long mem(pid_t pid, unsigned long addr, void *buf, size_t n, int write);

/* Runs n records already written at t->seq + SEQ_CODE; returns how many completed (or -errno). */
static long run_seq(tracee *t, long n) {
  if (t->stuck) return -ETIMEDOUT;
  struct user_regs_struct r = t->saved;
  unsigned long code = t->seq, trap = code + (unsigned long)(seq_trap - seq_code) + 1;
  unsigned long results = code + SEQ_CODE + SEQ_CAP * SEQ_REC * 8;
  r.rip = code, r.r12 = code + SEQ_CODE, r.r13 = results, r.r14 = (unsigned long)n;
  r.orig_rax = (unsigned long)-1;
  if (ptrace(PTRACE_SETREGS, t->tid, 0, &r) != 0) return -errno;
  for (int tries = 0; tries < 64; tries++) {
    if (ptrace(PTRACE_CONT, t->tid, 0, 0) != 0) return -errno;
    int st, late = wait_resumed(t, &st);
    if (late < 0) return late;
    if (WIFEXITED(st) || WIFSIGNALED(st)) { t->state = T_GONE; return -ESRCH; }
    if (!WIFSTOPPED(st)) continue;
    t->in_sigstop = st >> 16 == 0;
    if (ptrace(PTRACE_GETREGS, t->tid, 0, &r) != 0) return -errno;
    if (t->in_sigstop && WSTOPSIG(st) == SIGTRAP && r.rip == trap) return t->stuck = 0, (long)r.r15;
    if (late) {  /* records before r15 are done; the one in progress failed with ETIMEDOUT */
      long fail = -ETIMEDOUT;
      if (r.rip < code || r.rip > trap || mem(t->tid, results + r.r15 * 8, &fail, sizeof fail, 1) != 0) return -ETIMEDOUT;
      if (t->in_sigstop) hold_signal(t);
      return (long)r.r15;
    }
    if (st >> 16) continue;  /* a stale interrupt trap */
    if (r.rip >= code && r.rip < trap) return -EFAULT;  /* a fault of ours: never re-raised */
    hold_signal(t);
  }
  return -EAGAIN;
}

static long session_end(tracee *t) {
  if (!t->in_session) return -EINVAL;
  int ok;
  if (t->scratch && !t->stuck) { long a[6] = {(long)t->scratch, (long)t->scratch_len, 0, 0, 0, 0}; inject(t, SYS_munmap, a, &ok); }
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
  t->seq = 0;
  t->scratch_len = size + SEQ_AREA;
  long a[6] = {0, (long)t->scratch_len, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0};
  long v = inject(t, SYS_mmap, a, ok);
  if (*ok) {  /* executable scratch: the sequencer can run there */
    t->scratch = (unsigned long)v;
    size_t len = (size_t)(seq_trap - seq_code) + 1;
    if (mem(t->tid, t->scratch + size, (void *)seq_code, len, 1) == 0) t->seq = t->scratch + size;
    return v;
  }
  a[1] = (long)(t->scratch_len = size), a[2] = PROT_READ | PROT_WRITE;  /* W^X policy (MDWE): one syscall at a time */
  v = size ? inject(t, SYS_mmap, a, ok) : 0;
  if (!size) *ok = 1;
  if (*ok) t->scratch = size ? (unsigned long)v : 0;
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
  if (pfd < 0 && errno == EINVAL) pfd = (int)syscall(SYS_pidfd_open, pid, O_EXCL);  /* PIDFD_THREAD: a thread's table */
  if (pfd < 0) return -errno;
  long r = syscall(SYS_pidfd_getfd, pfd, fd, 0);
  if (r < 0) r = -errno;
  close(pfd);
  return r;
}

/* ---- commands ---- */

typedef struct { int st; long v; } res_t;  /* st: 1 ok, 0 failed (v = -errno), -1 skipped */

static int argval(const char *s, long *v, const res_t *res, int upto) {
  if (s[0] != '$') { *v = strtol(s, NULL, 10); return 0; }
  int k = atoi(s + 1);
  if (k < 0 || k >= upto || res[k].st != 1) return -1;
  *v = res[k].v;
  return 0;
}

static res_t run_op(char op, const long *v, const char *hex) {
  tracee *t = (op == 'O' || op == 'S' || op == 'E') ? find((pid_t)v[0]) : NULL;
  int ok = 0;
  long r;
  switch (op) {
  case 'O': r = t ? session_open(t, (unsigned long)v[1], (unsigned long)v[2], &ok) : -ESRCH; break;
  case 'S': r = t && t->in_session ? inject(t, v[1], v + 2, &ok) : -EBADSLT; break;
  case 'E': r = t ? session_end(t) : -ESRCH; ok = r == 0; break;
  case 'W': {
    size_t n = strlen(hex) / 2;
    unsigned char *buf = malloc(n + 1);
    r = buf && unhex(hex, buf, n) == (int)n ? mem((pid_t)v[0], (unsigned long)v[1], buf, n, 1) : -EINVAL;
    free(buf);
    ok = r == 0;
    break;
  }
  case 'R': {
    long val = 0;
    r = v[2] == 4 || v[2] == 8 ? mem((pid_t)v[0], (unsigned long)v[1], &val, (size_t)v[2], 0) : -EINVAL;
    if (r == 0) r = v[2] == 4 ? (long)(int)val : val, ok = 1;
    break;
  }
  case 'G': r = get_fd((pid_t)v[0], (int)v[1]); ok = r >= 0; break;
  case 'X': r = send_fd((int)v[0], (int)v[1]); ok = r == 0; break;
  case 'C': r = close((int)v[0]) ? -errno : 0; ok = r == 0; break;
  default: r = -EINVAL;
  }
  return (res_t){ok ? 1 : 0, r};
}

typedef struct { char op; int arg, dep0, ndep; } op_t;  /* arg: index of the first argument token */

static int ready(const op_t *o, char **tok, const res_t *res, const int *deps, int from) {
  /* may op o run inside a sequence starting at `from`? refs/deps before it must have succeeded */
  for (int d = 0; d < o->ndep; d++) if (deps[o->dep0 + d] < from && res[deps[o->dep0 + d]].st != 1) return 0;
  for (int j = 0; j < (o->op == 'S' ? 8 : 3); j++) {
    const char *a = tok[o->arg + j];
    if (a[0] == '$' && atoi(a + 1) < from && res[atoi(a + 1)].st != 1) return 0;
  }
  return o->op != 'R' || atol(tok[o->arg + 2]) == 4;
}

/* Runs ops[k..] through the sequencer when they form a run on one thread; returns the next op index, or k. */
static int try_sequence(const op_t *ops, int k, int n, char **tok, res_t *res, const int *deps) {
  if (!strchr("SRW", ops[k].op)) return k;
  pid_t tid = atoi(tok[ops[k].arg]);
  tracee *t = find(tid);
  if (!t || !t->in_session || !t->seq) return k;
  int end = k, nrec = 0;
  while (end < n && end - k < 2 * SEQ_CAP && nrec < SEQ_CAP && strchr("SRW", ops[end].op) && atoi(tok[ops[end].arg]) == tid &&
         ready(&ops[end], tok, res, deps, k))
    nrec += ops[end++].op != 'W';
  if (nrec < 2) return k;
  static long rec[SEQ_CAP * SEQ_REC], out[SEQ_CAP];
  static int map[2 * SEQ_CAP];  /* op offset from k -> record */
  int r = 0;
  for (int i = k; i < end; i++) {
    const op_t *o = &ops[i];
    if (o->op == 'W') {
      long v[3] = {tid, strtol(tok[o->arg + 1], NULL, 10), 0};
      res[i] = run_op('W', v, tok[o->arg + 2]);
      if (res[i].st != 1) return k;
      continue;
    }
    long *q = rec + r * SEQ_REC;
    memset(q, 0, SEQ_REC * sizeof *q);
    for (int j = 0; j < 6; j++) q[7 + j] = -1;
    q[0] = o->op == 'R' ? -2 : strtol(tok[o->arg + 1], NULL, 10);
    for (int j = 0; j < (o->op == 'R' ? 1 : 6); j++) {
      const char *a = tok[o->arg + (o->op == 'R' ? 1 : 2) + j];
      int ref = a[0] == '$' ? atoi(a + 1) : -1;
      if (ref >= k) q[7 + j] = map[ref - k];  /* a result inside this sequence */
      else q[1 + j] = ref >= 0 ? res[ref].v : strtol(a, NULL, 10);
    }
    map[i - k] = r++;
  }
  unsigned long base = t->seq + SEQ_CODE;
  if (mem(tid, base, rec, (size_t)r * SEQ_REC * sizeof *rec, 1) != 0) return k;
  long done = run_seq(t, r);
  if (done < 0 || mem(tid, base + SEQ_CAP * SEQ_REC * 8, out, (size_t)r * sizeof *out, 0) != 0) return k;
  for (int i = k, j = 0; i < end; i++) {
    if (ops[i].op == 'W') continue;
    if (j < done) res[i] = (res_t){1, out[j]};
    else { res[i] = (res_t){0, out[j]}; return i + 1; }  /* the failing op; the rest runs one by one */
    j++;
  }
  return end;
}

static void cmd_batch(int n, int ntok, char **tok) {
  res_t *res = calloc((size_t)n + 1, sizeof *res);
  op_t *ops = calloc((size_t)n + 1, sizeof *ops);
  int *deps = calloc((size_t)ntok + 1, sizeof *deps), nd = 0, k = 0;
  if (!res || !ops || !deps) _exit(70);
  for (int i = 0, d0 = 0; i < ntok && k < n;) {
    if (tok[i][0] == '^') { deps[nd++] = atoi(tok[i++] + 1); continue; }
    static const char letters[] = "OSWRGXCE";
    static const int arity[] = {3, 8, 3, 3, 2, 2, 1, 1};
    const char *at = tok[i][0] ? strchr(letters, tok[i][0]) : NULL;
    int a = at ? arity[at - letters] : 0;
    if (!a || i + a >= ntok) break;
    ops[k++] = (op_t){tok[i][0], i + 1, d0, nd - d0};
    d0 = nd;
    i += 1 + a;
  }
  for (int j = k; j < n; j++) res[j] = (res_t){0, -EINVAL};
  for (int i = 0; i < k;) {
    int next = try_sequence(ops, i, k, tok, res, deps);
    if (next > i) { i = next; continue; }
    const op_t *o = &ops[i];
    int skip = 0;
    for (int d = 0; d < o->ndep; d++) if (deps[o->dep0 + d] >= i || res[deps[o->dep0 + d]].st != 1) skip = 1;
    long v[8] = {0};
    int a = o->op == 'S' ? 8 : strchr("OWR", o->op) ? 3 : strchr("GX", o->op) ? 2 : 1;
    for (int j = 0; j < a; j++)
      if (!(o->op == 'W' && j == 2) && argval(tok[o->arg + j], &v[j], res, i)) skip = 1;
    res[i] = skip ? (res_t){-1, 0} : run_op(o->op, v, o->op == 'W' ? tok[o->arg + 2] : NULL);
    i++;
  }
  put("ok");
  for (int j = 0; j < n; j++) {
    if (res[j].st == 1) put(" %ld", res[j].v);
    else if (res[j].st == 0) put(" !%ld", -res[j].v);
    else put(" s");
  }
  free(res), free(ops), free(deps);
}

static long detach_one(tracee *t) {
  if (t->in_session) session_end(t);
  long sig = 0;
  int first = 0;
  if (t->nsig && t->in_sigstop && ptrace(PTRACE_SETSIGINFO, t->tid, 0, &t->sig[0]) == 0) sig = t->sig[0].si_signo, first = 1;
  for (int i = first; i < t->nsig; i++) syscall(SYS_tgkill, t->tgid, t->tid, t->sig[i].si_signo);
  return ptrace(PTRACE_DETACH, t->tid, 0, sig) ? -errno : 0;
}

static void cmd_detach(int n, char **arg) {
  put("ok");
  for (int i = 0; i < n; i++) {
    pid_t tid = atoi(arg[i]);
    tracee *t = find(tid);
    long rc = t ? detach_one(t) : -ESRCH;
    if (t && (rc == 0 || t->state == T_GONE)) drop(t);
    put(" %d:%ld", tid, rc);
  }
}

static void cmd_kcmp(int n, char **arg) {
  put("ok");
  for (int i = 0; i < n; i++) {
    char **a = arg + 5 * i;
    long r = syscall(SYS_kcmp, atoi(a[0]), atoi(a[1]), atoi(a[2]), strtoul(a[3], NULL, 10), strtoul(a[4], NULL, 10));
    put(" %ld", r < 0 ? -errno : r);
  }
}

static void cmd_fh2path(const char *dirhex, int n, char **arg) {
  unsigned char dir[4097];
  int dn = unhex(dirhex, dir, sizeof dir - 1);
  int mfd = -1;
  if (dn > 0) dir[dn] = 0, mfd = open((char *)dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  put("ok");
  for (int i = 0; i < n; i++) {
    struct { struct file_handle h; unsigned char b[MAX_HANDLE_SZ]; } fh;
    int hn = unhex(arg[2 * i + 1], fh.b, sizeof fh.b);
    if (mfd < 0 || hn < 0) { put(" !%d", mfd < 0 ? ENOENT : EINVAL); continue; }
    fh.h.handle_bytes = (unsigned)hn;
    fh.h.handle_type = atoi(arg[2 * i]);
    memmove(fh.h.f_handle, fh.b, (size_t)hn);
    int fd = open_by_handle_at(mfd, &fh.h, O_PATH | O_CLOEXEC);
    if (fd < 0) { put(" !%d", errno); continue; }
    char link[64], path[4097];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, path, sizeof path);
    close(fd);
    if (len < 0) { put(" !%d", errno); continue; }
    put(" ");
    put_hex((unsigned char *)path, (size_t)len);
  }
  if (mfd >= 0) close(mfd);
}

static void find_vdso_syscall(void) {
  FILE *f = fopen("/proc/self/maps", "re");
  char line[512];
  unsigned long lo, hi;
  while (f && fgets(line, sizeof line, f))
    if (strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
      for (unsigned long a = lo; a + 1 < hi; a++)
        if (*(unsigned char *)a == 0x0f && *(unsigned char *)(a + 1) == 0x05) { vdso_off = (long)(a - lo); break; }
      break;
    }
  if (f) fclose(f);
}

static void on_quit(int sig) { (void)sig; quit_requested = 1; }

static char *inbuf;
static size_t inlen, incap;

static char *read_line(void) {
  for (;;) {
    char *nl = inlen ? memchr(inbuf, '\n', inlen) : NULL;
    if (nl) { *nl = 0; return inbuf; }
    if (inlen + 65536 > incap) { incap = incap * 2 + 65536; inbuf = realloc(inbuf, incap); if (!inbuf) _exit(70); }
    ssize_t n = read(0, inbuf + inlen, incap - inlen);
    if (n < 0 && errno == EINTR && !quit_requested) continue;
    if (n <= 0) return NULL;
    inlen += (size_t)n;
  }
}

int main(void) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) return 0;
  struct sigaction sa = {.sa_handler = on_quit};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGINT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, NULL);
  sigchld_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  find_vdso_syscall();
  char **tok = NULL;
  size_t tokcap = 0;
  for (char *line; !quit_requested && (line = read_line());) {
    size_t used = strlen(line) + 1;
    int ntok = 0;
    for (char *p = strtok(line, " "); p; p = strtok(NULL, " ")) {
      if ((size_t)ntok == tokcap) { tokcap = tokcap * 2 + 64; tok = realloc(tok, tokcap * sizeof *tok); if (!tok) _exit(70); }
      tok[ntok++] = p;
    }
    outlen = 0;
    int n = ntok > 1 ? atoi(tok[1]) : 0;
    const char *c = ntok ? tok[0] : "";
    if (!strcmp(c, "hello")) put("ok %d %ld", getpid(), vdso_off);
    else if (!strcmp(c, "kcmp") && ntok >= 2 + 5 * n) cmd_kcmp(n, tok + 2);
    else if (!strcmp(c, "seize") && ntok >= 2 + 2 * n) cmd_seize(n, tok + 2);
    else if (!strcmp(c, "wait") && ntok == 2) cmd_wait(strtol(tok[1], NULL, 10));
    else if (!strcmp(c, "detach") && ntok >= 2 + n) cmd_detach(n, tok + 2);
    else if (!strcmp(c, "batch") && ntok >= 2) cmd_batch(n, ntok - 2, tok + 2);
    else if (!strcmp(c, "fh2path") && ntok >= 3 + 2 * atoi(tok[2])) cmd_fh2path(tok[1], atoi(tok[2]), tok + 3);
    else if (!strcmp(c, "quit")) break;
    else put("err %d bad command", EINVAL);
    put("\n");
    for (size_t off = 0; off < outlen;) {
      ssize_t w = write(1, out + off, outlen - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) _exit(0);
      off += (size_t)w;
    }
    memmove(inbuf, inbuf + used, inlen - used);
    inlen -= used;
  }
  return 0;
}
