/**
 * Cutover benchmark (issue #6), side by side with the article's procedure (bench/article.ts) on the same trees
 * in the same run. Per tree size (10k, 100k, 1M files, tmpfs source, tmpfs "share"), built once and pre-seeded
 * once, then RUNS rounds of:
 *   (a) livesync, writer zoo: `livesync start` in sync, timestamping writers running (relative path from a
 *       subdirectory cwd, held O_APPEND fd, held positioned fd, tail -F, the article's `date >> out` loop),
 *       then `livesync cutover --yes --json`;
 *   (b) the same plus a process rewriting 1,000 files spread over the second before the freeze;
 *   (c) the article's procedure (pre-seeded, full `rsync -a --delete` inside the freeze, gdb chdir).
 * Freeze window = the longest gap any writer sees, from its records read back on the share afterwards.
 * Targets: (a) ≤ 0.1 s and (b) ≤ 0.25 s at every size. Env: BENCH_CUTOVER_SIZES (comma list),
 * BENCH_CUTOVER_RUNS (default 3).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cli, Daemon } from '../test/helpers/daemon.ts';
import { articleWriter, gaps, readArticleOut, runArticle, stopGroup, type ArticleRun } from './article.ts';
import { median } from './probe.ts';
import { makeTree, scratch, timeCommand } from './tools.ts';

const SIZES = (process.env['BENCH_CUTOVER_SIZES'] ?? '10000,100000,1000000').split(',').map(Number);
const RUNS = Number(process.env['BENCH_CUTOVER_RUNS'] ?? 3);
const DIRTY = 1000;
/** the dirtying is spread over this long and aimed to end AIM_MS before the freeze: all of it in the last second */
const DIRTY_SPAN_MS = 900;
const AIM_MS = 50;

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

const med = (xs: number[]): number => median(xs.filter(Number.isFinite));

const WRITERS = ['rel.log', 'held.log', 'pos.dat'] as const;

interface Zoo {
  procs: ChildProcess[];
  stop: () => Promise<void>;
}

function startZoo(root: string, tag: string): Zoo {
  const dir = join(root, 'bench-zoo', tag);
  const sub = join(dir, 'sub');
  mkdirSync(sub, { recursive: true });
  const py = (mode: string, name: string): ChildProcess => spawn('python3', ['-c', PY_WRITER, mode, name], { cwd: sub, stdio: 'ignore', detached: true });
  const procs = [py('rel', 'rel.log'), py('held', 'held.log'), py('pos', 'pos.dat'), spawn('tail', ['-F', '-n', '0', 'rel.log'], { cwd: sub, stdio: 'ignore', detached: true }), articleWriter(root, join(dir, 'out'))];
  return { procs, stop: async () => void (await Promise.all(procs.map(stopGroup))) };
}

/** Longest gap (ms) over every writer of a zoo, and records lost (sequence holes, torn records). */
function readZoo(root: string, tag: string): { longestMs: number; tickMs: number; lost: number; worst: string } {
  const dir = join(root, 'bench-zoo', tag);
  let longestMs = -Infinity;
  let tickMs = 0;
  let lost = 0;
  let worst = '';
  const take = (name: string, ts: number[]): void => {
    const g = gaps(ts);
    if (g.longestMs > longestMs) [longestMs, worst] = [g.longestMs, name];
    tickMs = Math.max(tickMs, g.tickMs);
  };
  for (const name of WRITERS) {
    const recs = readFileSync(join(dir, 'sub', name), 'latin1').split('\n').slice(0, -1);
    const good = recs.filter((l) => /^\d{10} \d{20}$/.test(l)).map((l) => l.split(' ').map(Number) as [number, number]);
    const seqs = new Set(good.map((r) => r[0]));
    lost += recs.length - good.length + (good.length ? Math.max(...seqs) - seqs.size : 0);
    take(name, good.map((r) => r[1] / 1e6));
  }
  take('article-style writer', readArticleOut(join(dir, 'out')));
  return { longestMs, tickMs, lost, worst };
}

interface LsRun {
  outcome: string;
  gapMs: number;
  tickMs: number;
  worst: string;
  lost: number;
  freezeMs: number;
  deltaPaths: number;
  deltaSyncMs: number;
  steps: Record<string, number>;
  /** cutover CLI spawned → first process frozen */
  leadMs: number;
  startMs: number;
  /** (b) last dirtying write → first process frozen (negative: the freeze came first) */
  dirtyToFreezeMs: number | null;
  dirtyWrong: number | null;
}

interface Rig {
  src: string;
  share: string;
  state: string;
  files: number;
}

function mountsAt(path: string): number {
  return readFileSync('/proc/self/mountinfo', 'latin1').split('\n').filter((l) => l.split(' ')[4] === path).length;
}

/** Unmounts what a cutover stacked on `path` until `keep` mounts are left there. */
async function unmountTo(path: string, keep: number): Promise<void> {
  for (let i = 0; mountsAt(path) > keep && i < 50; i++) {
    if (spawnSync('umount', [path]).status !== 0) await sleep(100);
    if (i === 49) spawnSync('umount', ['-l', path]);
  }
}

async function livesyncRun(rig: Rig, scenario: 'zoo' | 'dirty', tag: string, leadMs: number, round: number): Promise<LsRun> {
  const stateDir = join(rig.state, tag);
  mkdirSync(stateDir, { mode: 0o700 });
  const t0 = performance.now();
  const daemon = new Daemon([rig.src, rig.share, '--state-dir', stateDir, '--name', 'bench']);
  const zoo: Zoo = { procs: [], stop: async () => undefined };
  let dirtier: ChildProcess | null = null;
  try {
    await daemon.waitState('in-sync', 900_000);
    const startMs = performance.now() - t0;
    Object.assign(zoo, startZoo(rig.src, tag));
    const ch = String.fromCharCode(65 + (round % 26));
    let dirtyDone: Promise<number> | null = null;
    if (scenario === 'dirty') {
      const d = spawn('python3', ['-c', PY_DIRTIER, String(rig.files), String(DIRTY), String(DIRTY_SPAN_MS / 1000), ch], { cwd: rig.src, stdio: ['pipe', 'pipe', 'ignore'], detached: true });
      dirtier = d;
      dirtyDone = new Promise((resolve) => d.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim()) * 1000)));
    }
    await sleep(1500);
    const args = ['cutover', '--state-dir', stateDir, '--yes', '--json', '--max-freeze', '10000'];
    let cliAt = 0;
    const go = async (): Promise<{ code: number | null; stdout: string; stderr: string }> => {
      cliAt = Date.now();
      return cli(args, { timeoutMs: 300_000 });
    };
    let res;
    if (dirtier) {
      // aim the freeze AIM_MS after the end of the dirtying: start the CLI `leadMs` before that moment
      const early = Math.max(0, leadMs - DIRTY_SPAN_MS - AIM_MS);
      const pending = early > 0 ? go() : null;
      await sleep(early);
      dirtier.stdin!.write('go\n');
      if (!pending) await sleep(Math.max(0, DIRTY_SPAN_MS + AIM_MS - leadMs));
      res = await (pending ?? go());
    } else res = await go();
    const report = JSON.parse(res.stdout) as { outcome: string; freezeMs: number | null; finalDelta: { paths: number; syncMs: number } | null; steps: Array<{ step: string; ms: number }> };
    const froze = daemon.records.find((r) => typeof r.msg === 'string' && r.msg.startsWith('froze '));
    const frozenAt = froze ? Number(froze['time']) - Number((froze['data'] as { durationMs: number }).durationMs) : NaN;
    let dirtyToFreezeMs: number | null = null;
    let dirtyWrong: number | null = null;
    if (dirtier && dirtyDone) {
      dirtyToFreezeMs = frozenAt - (await dirtyDone);
      dirtyWrong = countWrong(rig.src, rig.files, ch);
    }
    await sleep(600);
    await zoo.stop();
    const z = readZoo(rig.src, tag);
    return {
      outcome: report.outcome,
      gapMs: z.longestMs,
      tickMs: z.tickMs,
      worst: z.worst,
      lost: z.lost,
      freezeMs: report.freezeMs ?? NaN,
      deltaPaths: report.finalDelta?.paths ?? NaN,
      deltaSyncMs: report.finalDelta?.syncMs ?? NaN,
      steps: Object.fromEntries(report.steps.map((s) => [s.step, s.ms])),
      leadMs: frozenAt - cliAt,
      startMs,
      dirtyToFreezeMs,
      dirtyWrong,
    };
  } finally {
    await zoo.stop();
    if (dirtier) await stopGroup(dirtier);
    await cli(['stop', '--state-dir', stateDir], { timeoutMs: 60_000 });
    await Promise.race([daemon.exited(), sleep(30_000)]);
    await daemon[Symbol.asyncDispose]();
    await unmountTo(join(stateDir, 'bench', 'old'), 0);
    await unmountTo(rig.src, 1);
  }
}

/** Dirtied files whose content on the share is not what the dirtier wrote last. */
function countWrong(root: string, n: number, ch: string): number {
  const step = Math.floor(n / DIRTY);
  let wrong = 0;
  for (let i = 0; i < step * DIRTY; i += step) {
    const p = join(root, 'tree', `d${String(Math.floor(i / 100)).padStart(5, '0')}`, `f${String(i).padStart(7, '0')}`);
    if (readFileSync(p, 'latin1') !== ch.repeat((i % 7) * 100 + 1)) wrong++;
  }
  return wrong;
}

interface SizeResult {
  files: number;
  buildS: number;
  preseedS: number;
  a: LsRun[];
  b: LsRun[];
  art: ArticleRun[];
}

async function benchSize(files: number): Promise<SizeResult> {
  const size = files >= 1_000_000 ? '8g' : files >= 100_000 ? '2g' : '1g';
  const src = scratch('co-src', size);
  const share = scratch('co-share', size);
  const state = scratch('co-state', '64m');
  const rig: Rig = { src: src.path, share: share.path, state: state.path, files };
  try {
    let t = performance.now();
    makeTree(src.path, files);
    const buildS = (performance.now() - t) / 1000;
    t = performance.now();
    timeCommand('rsync', ['-a', `${src.path}/`, `${share.path}/`]);
    const preseedS = (performance.now() - t) / 1000;
    const out: SizeResult = { files, buildS, preseedS, a: [], b: [], art: [] };
    for (let k = 0; k < RUNS; k++) {
      process.stderr.write(`bench: cutover ${files} files, round ${k + 1}/${RUNS}\n`);
      out.a.push(await livesyncRun(rig, 'zoo', `a${k}`, 0, k));
      // CLI → freeze lead time, learnt from the earlier (b) runs (prepare waits for an in-flight batch), else (a)
      const leadB = med(out.b.map((r) => r.leadMs));
      const leadA = med(out.a.map((r) => r.leadMs));
      out.b.push(await livesyncRun(rig, 'dirty', `b${k}`, Number.isFinite(leadB) ? leadB : Number.isFinite(leadA) ? leadA + 150 : 500, k));
      try {
        out.art.push(await runArticle(src.path, share.path, `c${k}`));
      } finally {
        await unmountTo(src.path, 1);
      }
    }
    return out;
  } finally {
    src.dispose();
    share.dispose();
    state.dispose();
  }
}

const sec = (ms: number): string => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(3)} s` : '—');
const msf = (ms: number): string => (Number.isFinite(ms) ? `${Math.round(ms)}` : '—');
const range = (xs: number[]): string => `${sec(Math.min(...xs))}–${sec(Math.max(...xs))}`;
const label = (n: number): string => (n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`);

function verdict(ms: number, targetS: number): string {
  const s = ms / 1000;
  return s <= targetS ? `met (${Math.round((1 - s / targetS) * 100)} % under)` : `**not met** (+${Math.round((s / targetS - 1) * 100)} %)`;
}

function tables(results: SizeResult[]): string {
  const t1 = [
    `Freeze window = the longest gap any writer saw (records read back on the share), median of ${RUNS} (range). Writers tick every 5 ms (article writer: ~25 ms), so a gap includes up to one tick.`,
    '',
    '| tree | run | writer\'s longest gap | range | livesync `freezeMs` | final delta | target | verdict | article ÷ this |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const t2 = [
    'Where the freeze goes (medians, ms). livesync: steps from the report; the freeze window is freeze → thaw. Article: lsof is before the STOP; the writer resumes at its CONT, gdb runs after it (the article\'s order).',
    '',
    '| tree | run | outside the freeze | stop all | final sync | mount | re-point | thaw | lead: CLI → frozen |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const t3 = ['| tree | build tree | pre-seed `rsync -a` (once) | `livesync start` → in-sync (median) | article pre-seed rsync (median) | records lost (a / b) | dirtied files wrong on share (b) | last dirtying write → freeze (b) | article: chdir took |', '|---|---|---|---|---|---|---|---|---|'];
  for (const r of results) {
    const n = label(r.files);
    const art = med(r.art.map((x) => x.longestGapMs));
    for (const [name, runs, target] of [
      ['livesync, writer zoo (a)', r.a, 0.1],
      [`livesync, ${DIRTY.toLocaleString('en')} files dirtied in the last second (b)`, r.b, 0.25],
    ] as const) {
      const gap = med(runs.map((x) => x.gapMs));
      const outcomes = runs.filter((x) => x.outcome !== 'completed').map((x) => x.outcome);
      const delta = `${msf(med(runs.map((x) => x.deltaPaths)))} paths, ${msf(med(runs.map((x) => x.deltaSyncMs)))} ms`;
      t1.push(`| ${n} | ${name}${outcomes.length ? ` (${outcomes.join(', ')})` : ''} | ${sec(gap)} | ${range(runs.map((x) => x.gapMs))} | ${sec(med(runs.map((x) => x.freezeMs)))} | ${delta} | ≤ ${target} s | ${verdict(gap, target)} | ${(art / gap).toFixed(1)}× |`);
      const st = (k: string): string => msf(med(runs.map((x) => x.steps[k] ?? NaN)));
      t2.push(`| ${n} | livesync (${name.slice(-2, -1)}) | preflight ${st('preflight')}, prepare ${st('prepare')} | ${st('freeze')} | ${st('final-delta')} | ${st('mount-share')} | ${st('repoint')} | ${st('thaw')} | ${msf(med(runs.map((x) => x.leadMs)))} |`);
    }
    const a = r.art;
    t1.push(`| ${n} | article, pre-seeded (STOP, full \`rsync -a --delete\`, bind, CONT + gdb chdir) | ${sec(art)} | ${range(a.map((x) => x.longestGapMs))} | — | whole tree, ${msf(med(a.map((x) => x.rsyncMs)))} ms | (anchor) | — | 1.0× |`);
    t2.push(`| ${n} | article | lsof ${msf(med(a.map((x) => x.lsofMs)))} (${msf(med(a.map((x) => x.pids)))} pids) | ${msf(med(a.map((x) => x.stopMs)))} | ${msf(med(a.map((x) => x.rsyncMs)))} | ${msf(med(a.map((x) => x.remountMs)))} | CONT + gdb ${msf(med(a.map((x) => x.contGdbMs)))} (writer's gdb ${msf(med(a.map((x) => x.gdbWriterMs)))}) | — | — |`);
    const lost = `${r.a.reduce((s, x) => s + x.lost, 0)} / ${r.b.reduce((s, x) => s + x.lost, 0)}`;
    const wrong = r.b.reduce((s, x) => s + (x.dirtyWrong ?? 0), 0);
    t3.push(`| ${n} | ${r.buildS.toFixed(1)} s | ${r.preseedS.toFixed(1)} s | ${sec(med([...r.a, ...r.b].map((x) => x.startMs)))} | ${sec(med(a.map((x) => x.preseedMs)))} | ${lost} | ${wrong} of ${DIRTY * r.b.length} | ${msf(med(r.b.map((x) => x.dirtyToFreezeMs ?? NaN)))} ms | ${a.filter((x) => x.chdirTook).length} of ${a.length} |`);
  }
  return [...t1, '', ...t2, '', 'Set-up and correctness (all runs of the size):', '', ...t3].join('\n');
}

export async function benchCutover(): Promise<string> {
  const results: SizeResult[] = [];
  for (const files of SIZES) results.push(await benchSize(files));
  return tables(results);
}
