/**
 * The seed article's procedure ("Migrating Filesystems with Active Processes", 2017), written from the
 * article's text as a runner of its steps, for the side-by-side cutover benchmark (bench/cutover.ts):
 *
 *   pre-seed   rsync -a SOURCE/ SHARE/ before anything (the article's own hint: keep the share in sync
 *              beforehand, lsyncd-style), so the comparison with livesync's continuous mirror is fair
 *   discover   `lsof SOURCE`, the PID column
 *   freeze     kill -STOP each PID                                   ── the writer's gap starts
 *   sync       mount the share at a temporary dir, `rsync -avKx --delete SOURCE/ TMPDIR/`, unmount it
 *   remount    mount the share at SOURCE (a bind of the share directory: no NFS client in the bench kernel)
 *   resume     for each PID: kill -CONT, then `gdb -p PID -batch -ex 'call (int) chdir("SOURCE")'`
 *              (the article's order: CONT before chdir)              ── the writer's gap ends at its CONT
 *
 * Its writer is the article's: a shell loop in the tree root appending `date` to SOURCE/out, ticking every
 * 20 ms instead of 5 s so the gap is visible. Paths reach gdb as an escaped C string literal, never a shell.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The article's writer: `cd SOURCE; while :; do date >> OUT; sleep 0.02; done` (date with ns, to measure). */
export function articleWriter(cwd: string, out: string): ChildProcess {
  // the path travels in the environment, never in the script text
  return spawn('bash', ['-c', 'while :; do date +%s.%N >> "$OUT"; sleep 0.02; done'], { cwd, env: { ...process.env, OUT: out }, stdio: 'ignore', detached: true });
}

/** Kills a writer's whole process group (its `date`/`sleep` children too) and waits for it. */
export async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
  await gone;
}

/** Longest gap and median tick (ms) of a timestamp series, and where the longest gap started. */
export function gaps(ts: number[]): { longestMs: number; tickMs: number; at: number | null } {
  if (ts.length < 2) return { longestMs: NaN, tickMs: NaN, at: null };
  const d: number[] = [];
  let longest = -Infinity;
  let at: number | null = null;
  for (let i = 1; i < ts.length; i++) {
    const g = ts[i]! - ts[i - 1]!;
    d.push(g);
    if (g > longest) [longest, at] = [g, ts[i - 1]!];
  }
  d.sort((a, b) => a - b);
  return { longestMs: longest, tickMs: d[Math.floor(d.length / 2)]!, at };
}

/** The article writer's records (epoch seconds with ns) as ms. */
export function readArticleOut(path: string): number[] {
  return readFileSync(path, 'latin1')
    .split('\n')
    .filter((l) => /^\d+\.\d+$/.test(l))
    .map((l) => Number(l) * 1000);
}

/** C string literal for gdb: every byte outside printable ASCII (and quote, backslash) as an octal escape. */
function gdbString(path: string): string {
  return `"${Array.from(Buffer.from(path), (c) => (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : `\\${c.toString(8).padStart(3, '0')}`)).join('')}"`;
}

function must(file: string, args: string[], okCodes: number[] = [0]): { ms: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(file, args, { encoding: 'latin1', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  if (!okCodes.includes(r.status ?? -1)) throw new Error(`${file} ${args.join(' ')}: exit ${r.status ?? r.signal}: ${r.stderr.slice(-400)}`);
  return { ms: performance.now() - t0, stdout: r.stdout };
}

export interface ArticleRun {
  preseedMs: number;
  pids: number;
  lsofMs: number;
  stopMs: number;
  /** mount share at tmpdir + rsync + umount tmpdir */
  rsyncMs: number;
  remountMs: number;
  /** CONT + gdb of every PID */
  contGdbMs: number;
  /** gdb of the writer alone */
  gdbWriterMs: number;
  /** first STOP → last CONT (what the runner itself sees) */
  stoppedMs: number;
  /** the writer's cwd is on the share afterwards */
  chdirTook: boolean;
  /** the writer's longest gap, ms, and its normal tick */
  longestGapMs: number;
  tickMs: number;
}

/**
 * One run of the article's procedure on SOURCE (a tree root) with the share directory SHARE (on another
 * filesystem). Leaves the share mounted at SOURCE; `undoArticle` removes it.
 */
export async function runArticle(source: string, share: string, tag: string): Promise<ArticleRun> {
  const preseedMs = must('rsync', ['-a', '--delete', `${source}/`, `${share}/`]).ms;
  const dir = join(source, 'bench-zoo', tag);
  mkdirSync(dir, { recursive: true });
  const out = join(dir, 'out');
  const writer = articleWriter(source, out);
  try {
    await sleep(1000);
    // discover: `lsof SOURCE | awk '{print $2}' | egrep "[0-9]{1,}"` (exit 1 = nothing found)
    const l = must('lsof', [source], [0, 1]);
    const pids = [
      ...new Set(
        l.stdout
          .split('\n')
          .slice(1)
          .map((line) => line.trim().split(/\s+/)[1] ?? '')
          .filter((p) => /^\d+$/.test(p))
          .map(Number),
      ),
    ];
    const t0 = performance.now();
    for (const p of pids) signal(p, 'SIGSTOP');
    const t1 = performance.now();
    const tmpdir = mkdtempSync('/tmp/lsbench-article-remote-');
    must('mount', ['--bind', share, tmpdir]);
    must('rsync', ['-avKx', '--delete', `${source}/`, `${tmpdir}/`]);
    must('umount', [tmpdir]);
    const t2 = performance.now();
    must('mount', ['--bind', share, source]);
    const t3 = performance.now();
    let gdbWriterMs = NaN;
    let lastCont = t3;
    for (const p of pids) {
      signal(p, 'SIGCONT');
      lastCont = performance.now();
      const g0 = performance.now();
      spawnSync('gdb', ['-q', '-p', String(p), '-batch', '-ex', `call (int) chdir(${gdbString(source)})`], { stdio: 'ignore' });
      if (p === writer.pid) gdbWriterMs = performance.now() - g0;
    }
    const t4 = performance.now();
    rmdirSync(tmpdir);
    let chdirTook = false;
    try {
      chdirTook = statSync(readlinkSync(`/proc/${writer.pid}/cwd`)).dev === statSync(share).dev;
    } catch {
      chdirTook = false;
    }
    await sleep(800);
    await stopGroup(writer);
    const g = gaps(readArticleOut(out));
    return {
      preseedMs,
      pids: pids.length,
      lsofMs: l.ms,
      stopMs: t1 - t0,
      rsyncMs: t2 - t1,
      remountMs: t3 - t2,
      contGdbMs: t4 - t3,
      gdbWriterMs,
      stoppedMs: lastCont - t0,
      chdirTook,
      longestGapMs: g.longestMs,
      tickMs: g.tickMs,
    };
  } finally {
    await stopGroup(writer);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // a `date` or `sleep` child lsof saw has exited meanwhile
  }
}
