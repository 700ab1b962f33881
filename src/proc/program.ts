/**
 * A re-point program for the ptrace helper's `batch` command: injection sessions (one per thread we inject
 * into, each with a scratch area in the target) and ops that reference earlier results. Built twice by the
 * caller: once to size the scratch areas (addresses 0), then for real once the sessions are open. Chains
 * group the ops of one item so a result can be blamed on the first op that failed.
 */

/** x86-64 syscall numbers. */
export const NR = {
  close: 3,
  lseek: 8,
  ioctl: 16,
  recvmsg: 47,
  socketpair: 53,
  fcntl: 72,
  flock: 73,
  chdir: 80,
  epollCtl: 233,
  inotifyAddWatch: 254,
  openat: 257,
  dup3: 292,
  inotifyInit1: 294,
} as const;

export type Arg = number | { ref: number };

export const ref = (k: number): { ref: number } => ({ ref: k });

export class Session {
  readonly pid: number;
  readonly tid: number;
  readonly vdso: number;
  /** scratch address in the target once opened (0 while sizing) */
  addr = 0;
  #used = 0;

  constructor(pid: number, tid: number, vdso: number) {
    this.pid = pid;
    this.tid = tid;
    this.vdso = vdso;
  }

  /** Reserves `bytes` of scratch (16-aligned); returns the offset. */
  reserve(bytes: number): number {
    const off = this.#used;
    this.#used += Math.ceil(bytes / 16) * 16;
    return off;
  }

  get size(): number {
    return Math.max(4096, Math.ceil(this.#used / 4096) * 4096);
  }
}

export interface Chain {
  pid: number;
  comm: string;
  kind: 'cwd' | 'fd' | 'watch' | 'lock';
  item: string;
  /** the thread whose injection session could not be opened (then `ops` is empty) */
  missing?: number;
  ops: number[];
  /** op -> the value it must return (e.g. the wd of inotify_add_watch) */
  expect: Map<number, number>;
}

export class Program {
  readonly sessions: Map<number, Session>;
  readonly sizing: boolean;
  readonly chains: Chain[] = [];
  #ops: string[] = [];
  #count = 0;
  #deps: number[] = [];
  #chain: Chain | undefined;

  /** `sessions`: the opened ones (real pass), or an empty map that fills up (sizing pass) */
  constructor(sessions: Map<number, Session>, sizing: boolean) {
    this.sessions = sessions;
    this.sizing = sizing;
  }

  /** The session on `tid`, or undefined when it could not be opened (real pass). */
  session(pid: number, tid: number, vdso: number): Session | undefined {
    const s = this.sessions.get(tid);
    if (!s && !this.sizing && this.#chain) this.#chain.missing = tid;
    if (s || !this.sizing) return s;
    const fresh = new Session(pid, tid, vdso);
    this.sessions.set(tid, fresh);
    return fresh;
  }

  begin(pid: number, comm: string, kind: Chain['kind'], item: string): Chain {
    this.#chain = { pid, comm, kind, item, ops: [], expect: new Map() };
    this.chains.push(this.#chain);
    return this.#chain;
  }

  /** The next op runs only if these ops succeeded. */
  after(...deps: Array<number | undefined>): this {
    for (const d of deps) if (d !== undefined) this.#deps.push(d);
    return this;
  }

  #op(tokens: Array<string | number>): number {
    const k = this.#count++;
    for (const d of this.#deps) this.#ops.push(`^${d}`);
    this.#deps = [];
    this.#ops.push(tokens.join(' '));
    this.#chain?.ops.push(k);
    return k;
  }

  #arg = (a: Arg): string => (typeof a === 'number' ? String(a) : `$${a.ref}`);

  /** inject syscall `nr` in the session's thread */
  sys(s: Session, nr: number, ...args: Arg[]): number {
    const six = [...args, 0, 0, 0, 0, 0, 0].slice(0, 6).map(this.#arg);
    return this.#op(['S', s.tid, nr, ...six]);
  }

  write(s: Session, off: number, bytes: Buffer): number {
    return this.#op(['W', s.tid, s.addr + off, bytes.toString('hex')]);
  }

  read(s: Session, off: number, size: 4 | 8): number {
    return this.#op(['R', s.tid, s.addr + off, size]);
  }

  /** pidfd_getfd: a copy of thread `tid`'s fd in the helper */
  grab(tid: number, fd: Arg): number {
    return this.#op(['G', tid, this.#arg(fd)]);
  }

  /** sendmsg(SCM_RIGHTS) of a helper fd over a helper-held socket */
  pass(chan: Arg, fd: Arg): number {
    return this.#op(['X', this.#arg(chan), this.#arg(fd)]);
  }

  closeHelperFd(fd: Arg): number {
    return this.#op(['C', this.#arg(fd)]);
  }

  end(s: Session): number {
    this.#chain = undefined;
    return this.#op(['E', s.tid]);
  }

  get ops(): string[] {
    return this.#ops;
  }

  get count(): number {
    return this.#count;
  }
}

/** The op text that opens each session (batch 1). */
export function openOps(sessions: Iterable<Session>): { ops: string[]; order: Session[] } {
  const order = [...sessions];
  return { ops: order.map((s) => `O ${s.tid} ${s.vdso} ${s.size}`), order };
}
