/**
 * What to inject to re-point frozen processes onto a new root, as a Program (program.ts). Decisions live here:
 *   cwd      chdir(new path) in one thread of each fs_struct
 *   fds      one open file description per share group: openat(new path, same flags) in the first process
 *            holding it, lseek to the same offset, dup3 onto every fd number (close-on-exec kept per fd),
 *            locks taken again. Other processes sharing it get the SAME new description: the helper copies
 *            it (pidfd_getfd) and passes it over a socketpair made inside the target (SCM_RIGHTS), so the
 *            shared offset stays shared. Opening inside the target keeps the target's credentials on it.
 *   inotify  a new instance with the same watch descriptors (INOTIFY_IOC_SETNEXTWD) and masks, dup3 over the
 *            old fd, re-added to the epoll sets that held the old one.
 */
import type { LockLine } from '../sys/procfs-fdinfo.ts';
import { display } from '../util/bpath.ts';
import { NR, ref, type Program, type Session } from './program.ts';
import { under } from './tree.ts';
import type { Item, ProcPlan } from './types.ts';

const AT_FDCWD = -100;
const O_CLOEXEC = 0o2000000;
const O_PATH = 0o10000000;
const O_NONBLOCK = 0o4000;
/** dropped when reopening: creation/truncation must never happen again; O_ASYNC needs F_SETOWN (not kept) */
const O_NOT_REOPENED = 0o100 | 0o200 | 0o1000 | 0o400 | 0o20000 | O_CLOEXEC;
const SEEK_SET = 0;
const LOCK = { sh: 1, ex: 2, nb: 4 } as const;
const F_SETLK = 6;
const F_OFD_SETLK = 37;
const INOTIFY_IOC_SETNEXTWD = 0x40044900;
const EPOLL_CTL_ADD = 1;
const SOCK = { unix: 1, dgram: 2 } as const;
const MSG_CMSG_CLOEXEC = 0x40000000;

type FdItem = Extract<Item, { kind: 'fd' }>;
interface Unit {
  p: ProcPlan;
  table: number;
  fds: FdItem[];
}

const cstr = (path: string): Buffer => Buffer.concat([Buffer.from(path, 'latin1'), Buffer.from([0])]);
const vdsoOf = (p: ProcPlan): number => (p.info.vdso ? Number(BigInt(`0x${p.info.vdso}`)) : 0);
const cloexec = (f: FdItem): number => (f.flags & O_CLOEXEC ? O_CLOEXEC : 0);
export const reopenFlags = (f: FdItem): number => (f.flags & ~O_NOT_REOPENED) | O_CLOEXEC;

function emitCwds(prog: Program, p: ProcPlan, toRoot: string): void {
  for (const j of p.items) {
    if (j.action !== 'chdir' || j.item.kind !== 'cwd' || j.item.rel === null) continue;
    const chain = prog.begin(p.info.pid, p.info.comm, 'cwd', `cwd ${display(j.item.rel) || '.'}`);
    const s = prog.session(p.info.pid, j.item.tids[0]!, vdsoOf(p));
    if (!s) continue;
    const off = s.reserve(cstr(under(toRoot, j.item.rel)).length);
    const w = prog.write(s, off, cstr(under(toRoot, j.item.rel)));
    chain.expect.set(prog.after(w).sys(s, NR.chdir, s.addr + off), 0);
  }
}

/** struct flock (x86-64): l_type, l_whence, l_start, l_len, l_pid */
function flockBytes(lock: LockLine): Buffer {
  const b = Buffer.alloc(32);
  b.writeInt16LE(lock.access === 'WRITE' ? 1 : 0, 0);
  b.writeInt16LE(SEEK_SET, 2);
  b.writeBigInt64LE(BigInt(lock.start), 8);
  b.writeBigInt64LE(lock.end === null ? 0n : BigInt(lock.end - lock.start + 1), 16);
  return b;
}

function emitLocks(prog: Program, p: ProcPlan, s: Session, fd: number, locks: LockLine[], dep: number): void {
  for (const lock of locks) {
    const chain = prog.begin(p.info.pid, p.info.comm, 'lock', `${lock.kind} ${lock.access} lock on fd ${fd}`);
    if (lock.kind === 'FLOCK') {
      chain.expect.set(prog.after(dep).sys(s, NR.flock, fd, (lock.access === 'WRITE' ? LOCK.ex : LOCK.sh) | LOCK.nb), 0);
    } else {
      const off = s.reserve(32);
      const w = prog.write(s, off, flockBytes(lock));
      chain.expect.set(prog.after(dep, w).sys(s, NR.fcntl, fd, lock.kind === 'OFDLCK' ? F_OFD_SETLK : F_SETLK, s.addr + off), 0);
    }
  }
}

const lockKey = (l: LockLine): string => `${l.kind}:${l.access}:${l.start}:${l.end}`;
function uniqueLocks(fds: FdItem[], kinds: string[]): LockLine[] {
  const seen = new Map<string, LockLine>();
  for (const f of fds) for (const l of f.locks) if (kinds.includes(l.kind)) seen.set(lockKey(l), l);
  return [...seen.values()];
}

const label = (u: Unit): string => `fd ${u.fds.map((f) => f.fd).join(',')} ${display(u.fds[0]!.rel ?? '')}`;

/** Another process (or fd table) receives the opener's new description over a socketpair made in it. */
function emitReceiver(prog: Program, u: Unit, held: number): void {
  const chain = prog.begin(u.p.info.pid, u.p.info.comm, 'fd', label(u));
  const s = prog.session(u.p.info.pid, u.table, vdsoOf(u.p));
  if (!s) return;
  // scratch: [sv: 2 ints][msghdr 56][iovec 16][1 byte, padded][control 24, fd slot pre-set to -1]
  const off = s.reserve(112);
  const a = s.addr + off;
  const b = Buffer.alloc(112);
  b.writeBigUInt64LE(BigInt(a + 64), 8 + 16);
  b.writeBigUInt64LE(1n, 8 + 24);
  b.writeBigUInt64LE(BigInt(a + 88), 8 + 32);
  b.writeBigUInt64LE(24n, 8 + 40);
  b.writeBigUInt64LE(BigInt(a + 80), 64);
  b.writeBigUInt64LE(1n, 72);
  b.writeInt32LE(-1, 88 + 16);
  const w = prog.write(s, off, b);
  const pair = prog.after(w).sys(s, NR.socketpair, SOCK.unix, SOCK.dgram | O_CLOEXEC, 0, a);
  const s0 = prog.after(pair).read(s, off, 4);
  const s1 = prog.after(pair).read(s, off + 4, 4);
  const chan = prog.grab(u.table, ref(s1));
  const sent = prog.pass(ref(chan), ref(held));
  const got = prog.after(sent).sys(s, NR.recvmsg, ref(s0), a + 8, MSG_CMSG_CLOEXEC);
  const nf = prog.after(got).read(s, off + 88 + 16, 4);
  const dups = u.fds.map((f) => {
    const d = prog.sys(s, NR.dup3, ref(nf), f.fd, cloexec(f));
    chain.expect.set(d, f.fd);
    return d;
  });
  prog.sys(s, NR.close, ref(nf));
  prog.sys(s, NR.close, ref(s0));
  prog.sys(s, NR.close, ref(s1));
  prog.closeHelperFd(ref(chan));
  emitLocks(prog, u.p, s, u.fds[0]!.fd, uniqueLocks(u.fds, ['POSIX']), dups[0]!);
}

function emitGroup(prog: Program, units: Unit[], toRoot: string): void {
  const [opener, ...receivers] = units;
  if (!opener) return;
  const first = opener.fds[0]!;
  const chain = prog.begin(opener.p.info.pid, opener.p.info.comm, 'fd', label(opener));
  const s = prog.session(opener.p.info.pid, opener.table, vdsoOf(opener.p));
  if (!s) {
    for (const u of receivers) prog.begin(u.p.info.pid, u.p.info.comm, 'fd', label(u)).missing = opener.table;
    return;
  }
  const path = cstr(under(toRoot, first.rel ?? ''));
  const off = s.reserve(path.length);
  const w = prog.write(s, off, path);
  const open = prog.after(w).sys(s, NR.openat, AT_FDCWD, s.addr + off, reopenFlags(first), 0);
  const seek = first.type === 'file' && !(first.flags & O_PATH) && first.pos > 0 ? prog.sys(s, NR.lseek, ref(open), first.pos, SEEK_SET) : undefined;
  if (seek !== undefined) chain.expect.set(seek, first.pos);
  const dups = opener.fds.map((f) => {
    const d = prog.after(seek).sys(s, NR.dup3, ref(open), f.fd, cloexec(f));
    chain.expect.set(d, f.fd);
    return d;
  });
  prog.sys(s, NR.close, ref(open));
  const all = units.flatMap((u) => u.fds);
  emitLocks(prog, opener.p, s, first.fd, [...uniqueLocks(all, ['FLOCK', 'OFDLCK']), ...uniqueLocks(opener.fds, ['POSIX'])], dups[0]!);
  if (receivers.length === 0) return;
  const held = prog.after(dups[0]).grab(opener.table, first.fd);
  for (const u of receivers) emitReceiver(prog, u, held);
  prog.closeHelperFd(ref(held));
}

function emitWatches(prog: Program, p: ProcPlan, toRoot: string): void {
  for (const j of p.items) {
    if (j.action !== 'rewatch' || j.item.kind !== 'inotify') continue;
    const item = j.item;
    const chain = prog.begin(p.info.pid, p.info.comm, 'watch', `inotify fd ${item.fd} (${item.watches.length} watches)`);
    const s = prog.session(p.info.pid, item.table, vdsoOf(p));
    if (!s) continue;
    const init = prog.sys(s, NR.inotifyInit1, (item.flags & O_NONBLOCK) | O_CLOEXEC);
    const adds = [...item.watches]
      .sort((a, b) => a.wd - b.wd)
      .map((wt) => {
        const path = cstr(wt.rel !== null ? under(toRoot, wt.rel) : (wt.path ?? ''));
        const off = s.reserve(path.length);
        const w = prog.write(s, off, path);
        const next = prog.sys(s, NR.ioctl, ref(init), INOTIFY_IOC_SETNEXTWD, wt.wd);
        const add = prog.after(w, next).sys(s, NR.inotifyAddWatch, ref(init), s.addr + off, wt.mask);
        chain.expect.set(add, wt.wd);
        return add;
      });
    const dup = prog.after(...adds).sys(s, NR.dup3, ref(init), item.fd, item.flags & O_CLOEXEC ? O_CLOEXEC : 0);
    chain.expect.set(dup, item.fd);
    prog.sys(s, NR.close, ref(init));
    for (const e of item.epolls) {
      const ev = Buffer.alloc(12);
      ev.writeUInt32LE(e.events >>> 0, 0);
      ev.writeBigUInt64LE(BigInt(`0x${e.data}`), 4);
      const off = s.reserve(12);
      const w = prog.write(s, off, ev);
      chain.expect.set(prog.after(dup, w).sys(s, NR.epollCtl, e.epfd, EPOLL_CTL_ADD, item.fd, s.addr + off), 0);
    }
  }
}

/** Emits the whole re-point of `procs` onto `toRoot` (deterministic: called once sizing, once for real). */
export function emitRepoint(prog: Program, procs: ProcPlan[], toRoot: string): void {
  const groups = new Map<number, Unit[]>();
  for (const p of procs) {
    emitCwds(prog, p, toRoot);
    emitWatches(prog, p, toRoot);
    for (const j of p.items) {
      if ((j.action !== 'reopen' && j.action !== 'reopen-dir') || j.item.kind !== 'fd') continue;
      const units = groups.get(j.item.share) ?? [];
      groups.set(j.item.share, units);
      const table = j.item.table;
      const unit = units.find((u) => u.p === p && u.table === table);
      if (unit) unit.fds.push(j.item);
      else units.push({ p, table, fds: [j.item] });
    }
  }
  for (const units of groups.values()) emitGroup(prog, units, toRoot);
}
