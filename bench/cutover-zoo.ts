/**
 * The cutover benchmark's writers (bench/cutover.ts): processes that timestamp every write, so the freeze
 * window can be read back from what they wrote on the share afterwards, in the ways that break naive cutovers:
 * a relative path from a subdirectory cwd (open/append/close every tick), a held O_APPEND fd, a held
 * positioned fd (no append: the offset must survive), `tail -F`, and the article's `date >> out` loop.
 * Records are `seq monotonic_ns`, fixed width: a hole in `seq` or a torn record is a lost write.
 * The dirtier rewrites 1,000 tree files (same size, new content) spread over a span, on a line on stdin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { articleWriter, gaps, readArticleOut, stopGroup } from './article.ts';

/** Timestamping writers; every record is `seq monotonic_ns`, 5 ms apart. */
const PY_WRITER = `
import os, sys, time
mode, name = sys.argv[1], sys.argv[2]
i = 0
if mode == 'rel':
    while True:
        i += 1
        with open(name, 'ab') as f: f.write(b'%010d %020d\\n' % (i, time.monotonic_ns()))
        time.sleep(0.005)
fd = os.open(name, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == 'held' else 0), 0o644)
while True:
    i += 1
    os.write(fd, b'%010d %020d\\n' % (i, time.monotonic_ns()))
    time.sleep(0.005)
`;

/** Rewrites `count` tree files (same size, new content) evenly over `span` s after a line on stdin. */
const PY_DIRTIER = `
import sys, time
n, count, span, ch = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4].encode()
step = n // count
files = [('tree/d%05d/f%07d' % (i // 100, i), (i % 7) * 100 + 1) for i in range(0, step * count, step)]
sys.stdin.readline()
t0 = time.monotonic()
for k, (p, size) in enumerate(files):
    d = t0 + span * k / count - time.monotonic()
    if d > 0: time.sleep(d)
    with open(p, 'r+b') as f: f.write(ch * size)
print('%.6f' % time.time(), flush=True)
sys.stdin.readline()
`;


export const WRITERS = ['rel.log', 'held.log', 'pos.dat'] as const;

export interface Zoo {
  procs: ChildProcess[];
  stop: () => Promise<void>;
}

export function startZoo(root: string, tag: string): Zoo {
  const dir = join(root, 'bench-zoo', tag);
  const sub = join(dir, 'sub');
  mkdirSync(sub, { recursive: true });
  const py = (mode: string, name: string): ChildProcess => spawn('python3', ['-c', PY_WRITER, mode, name], { cwd: sub, stdio: 'ignore', detached: true });
  const procs = [py('rel', 'rel.log'), py('held', 'held.log'), py('pos', 'pos.dat'), spawn('tail', ['-F', '-n', '0', 'rel.log'], { cwd: sub, stdio: 'ignore', detached: true }), articleWriter(root, join(dir, 'out'))];
  return { procs, stop: async () => void (await Promise.all(procs.map(stopGroup))) };
}

/** Longest gap (ms) over every writer of a zoo, and records lost (sequence holes, torn records). */
export function readZoo(root: string, tag: string): { longestMs: number; tickMs: number; lost: number; worst: string; missing: string[] } {
  const dir = join(root, 'bench-zoo', tag);
  let longestMs = -Infinity;
  let tickMs = 0;
  let lost = 0;
  let worst = '';
  const missing: string[] = [];
  const take = (name: string, ts: number[]): void => {
    const g = gaps(ts);
    if (g.longestMs > longestMs) [longestMs, worst] = [g.longestMs, name];
    tickMs = Math.max(tickMs, g.tickMs);
  };
  for (const name of WRITERS) {
    let recs: string[];
    try {
      recs = readFileSync(join(dir, 'sub', name), 'latin1').split('\n').slice(0, -1);
    } catch {
      missing.push(name);
      continue;
    }
    const good = recs.filter((l) => /^\d{10} \d{20}$/.test(l)).map((l) => l.split(' ').map(Number) as [number, number]);
    const seqs = new Set(good.map((r) => r[0]));
    lost += recs.length - good.length + (good.length ? Math.max(...seqs) - seqs.size : 0);
    take(name, good.map((r) => r[1] / 1e6));
  }
  try {
    take('article-style writer', readArticleOut(join(dir, 'out')));
  } catch {
    missing.push('out');
  }
  return { longestMs, tickMs, lost, worst, missing };
}

/** Starts the dirtier (cwd = the tree root); `done` resolves with the epoch ms of its last write. */
export function startDirtier(root: string, files: number, count: number, spanMs: number, ch: string): { child: ChildProcess; done: Promise<number> } {
  const child = spawn('python3', ['-c', PY_DIRTIER, String(files), String(count), String(spanMs / 1000), ch], { cwd: root, stdio: ['pipe', 'pipe', 'ignore'], detached: true });
  const done = new Promise<number>((resolve) => child.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim()) * 1000)));
  return { child, done };
}

/** Dirtied files whose content on the share is not what the dirtier wrote last. */
export function countWrong(root: string, n: number, count: number, ch: string): number {
  const step = Math.floor(n / count);
  let wrong = 0;
  for (let i = 0; i < step * count; i += step) {
    const p = join(root, 'tree', `d${String(Math.floor(i / 100)).padStart(5, '0')}`, `f${String(i).padStart(7, '0')}`);
    if (readFileSync(p, 'latin1') !== ch.repeat((i % 7) * 100 + 1)) wrong++;
  }
  return wrong;
}
