/**
 * Benchmark: time until every directory is watched, and memory, for livesync's raw-inotify watcher vs lsyncd
 * (the anchor, measured in the same run) on 1M empty files in 10k directories, and vs chokidar on a 100k-file
 * tree (its 1M-file run takes minutes and runs out of watches: see measurements.md).
 *
 * Each mechanism runs in its own process; "ready" is measured from spawn to:
 *   livesync inotify / chokidar: the child's "ready" line (start() resolved / chokidar 'ready');
 *   lsyncd (init = false: no startup rsync): its inotify fd holding one watch per directory (/proc fdinfo).
 * RSS is the process's VmRSS at that moment. Medians of RUNS runs.
 *
 * Standalone: `node bench/watch.ts` (as root it re-runs itself in a private mount namespace and builds the
 * trees on tmpfs; otherwise under the temp dir). In bench/run.ts: `watch: () => benchWatchTable()`.
 * Child mode: `node bench/watch.ts --child <kind> <root>`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inPrivateMountNs, unshareCommand } from '../src/sys/mount-ns.ts';

const RUNS = 3;
const BIG = { dirs: 10_000, filesPerDir: 100 };
const SMALL = { dirs: 1_000, filesPerDir: 100 };
const LSYNCD_ANCHOR = { readyS: 1.36, rssMb: 11.6 };
/** A mechanism that is not ready after this long is reported as timed out. */
const READY_TIMEOUT_MS = 180_000;

export interface BenchRow {
  mechanism: string;
  tree: string;
  /** median seconds from spawn to every directory watched */
  readyS: number | null;
  /** median seconds inside the process (watcher work only), when the process reports it */
  workS: number | null;
  rssMb: number | null;
  watches: number | null;
  note: string;
}

interface Sample {
  readyMs: number;
  workMs: number | null;
  rssMb: number;
  watches: number | null;
}

const self = fileURLToPath(import.meta.url);
const top = resolve(self, '..', '..');

/** Builds root/dNNN/eNNNNN/fNNN: `dirs` leaf directories of `filesPerDir` empty files (plus 1 + dirs/100 parents). */
function buildTree(root: string, shape: { dirs: number; filesPerDir: number }): number {
  for (let d = 0; d < shape.dirs; d++) {
    const dir = join(root, `d${Math.floor(d / 100)}`, `e${d}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < shape.filesPerDir; f++) closeSync(openSync(join(dir, `f${f}`), 'w'));
  }
  return 1 + Math.ceil(shape.dirs / 100) + shape.dirs;
}

function rssMbOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Watches held by a process's inotify fds (one "inotify wd:" line per watch). */
function watchesOf(pid: number): number {
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:inotify') continue;
      count += readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // fd closed meanwhile
    }
  }
  return count;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** A node child running one watcher; ready when it prints its JSON line. */
async function runNodeChild(kind: 'inotify' | 'chokidar' | 'baseline', root: string): Promise<Sample> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [self, '--child', kind, root], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await new Promise<string>((resolveLine, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${kind}: not ready after ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) {
          clearTimeout(timer);
          resolveLine(out.slice(0, out.indexOf('\n')));
        }
      });
      child.once('exit', (code) => reject(new Error(`${kind} child exited with ${code}`)));
    });
    const readyMs = performance.now() - t0;
    const r = JSON.parse(line) as { workMs: number; rssMb: number };
    return { readyMs, workMs: r.workMs, rssMb: r.rssMb, watches: watchesOf(child.pid!) };
  } finally {
    await stop(child);
  }
}

async function runLsyncd(root: string, dirs: number, scratch: string): Promise<Sample> {
  const dst = join(scratch, 'lsyncd-dst');
  mkdirSync(dst, { recursive: true });
  const conf = join(scratch, 'lsyncd.conf.lua');
  writeFileSync(conf, `settings { nodaemon = true, logfile = ${JSON.stringify(join(scratch, 'lsyncd.log'))} }\nsync { default.rsync, source = ${JSON.stringify(root)}, target = ${JSON.stringify(dst)}, init = false, delay = 1 }\n`);
  const t0 = performance.now();
  const child = spawn('lsyncd', [conf], { stdio: 'ignore' });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`lsyncd exited with ${child.exitCode}`);
      const watches = child.pid ? watchesOf(child.pid) : 0;
      if (watches >= dirs) return { readyMs: performance.now() - t0, workMs: null, rssMb: rssMbOf(child.pid!), watches };
      if (performance.now() - t0 > READY_TIMEOUT_MS) throw new Error('lsyncd: watches not ready in time');
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await stop(child);
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function measure(mechanism: string, tree: string, runs: number, once: () => Promise<Sample>, note = ''): Promise<BenchRow> {
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) samples.push(await once());
  const workMs = samples.map((s) => s.workMs).filter((v): v is number => v !== null);
  return {
    mechanism,
    tree,
    readyS: median(samples.map((s) => s.readyMs)) / 1000,
    workS: workMs.length > 0 ? median(workMs) / 1000 : null,
    rssMb: median(samples.map((s) => s.rssMb)),
    watches: samples[0]!.watches,
    note,
  };
}

function hasLsyncd(): boolean {
  return spawnSync('lsyncd', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Runs the whole benchmark; returns one row per mechanism and tree. */
export async function benchWatch(runs = RUNS): Promise<BenchRow[]> {
  const scratch = mkdtempSync(join(tmpdir(), 'livesync-bench-watch-'));
  const onTmpfs = process.getuid?.() === 0 && inPrivateMountNs();
  if (onTmpfs) spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4g,nr_inodes=4000000', 'tmpfs', scratch], { stdio: 'inherit' });
  const fs = onTmpfs ? 'tmpfs' : 'temp dir';
  const rows: BenchRow[] = [];
  try {
    const big = join(scratch, 'big');
    const small = join(scratch, 'small');
    const bigDirs = buildTree(big, BIG);
    const smallDirs = buildTree(small, SMALL);
    const bigName = `1M files / ${bigDirs} dirs (${fs})`;
    const smallName = `100k files / ${smallDirs} dirs (${fs})`;
    rows.push(await measure('livesync inotify', bigName, runs, () => runNodeChild('inotify', big)));
    if (hasLsyncd()) rows.push(await measure('lsyncd 2.2.3 (init=false)', bigName, runs, () => runLsyncd(big, bigDirs, scratch)));
    rows.push(await measure('livesync inotify', smallName, runs, () => runNodeChild('inotify', small)));
    if (hasLsyncd()) rows.push(await measure('lsyncd 2.2.3 (init=false)', smallName, runs, () => runLsyncd(small, smallDirs, scratch)));
    rows.push(await measure('chokidar 5', smallName, runs, () => runNodeChild('chokidar', small), 'one watch per file'));
    rows.push(await measure('node baseline (no watcher)', '-', runs, () => runNodeChild('baseline', small), 'process start + module load'));
  } finally {
    if (onTmpfs) spawnSync('umount', ['-l', scratch]);
    rmSync(scratch, { recursive: true, force: true });
  }
  return rows;
}

/** For bench/run.ts sections: the benchmark as a markdown table. */
export async function benchWatchTable(): Promise<string> {
  return formatTable(await benchWatch());
}

const fmt = (v: number | null, digits: number): string => (v === null || Number.isNaN(v) ? '-' : v.toFixed(digits));

export function formatTable(rows: BenchRow[]): string {
  const lsyncd = new Map(rows.filter((r) => r.mechanism.startsWith('lsyncd')).map((r) => [r.tree, r]));
  const lines = [
    '| mechanism | tree | ready (s, from spawn) | watcher work (s) | RSS (MB) | watches | ready vs lsyncd (same run) | notes |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const anchor = lsyncd.get(r.tree);
    const ratio = anchor?.readyS && r.readyS !== null ? `${(r.readyS / anchor.readyS).toFixed(2)}x` : '-';
    lines.push(`| ${r.mechanism} | ${r.tree} | ${fmt(r.readyS, 2)} | ${fmt(r.workS, 2)} | ${fmt(r.rssMb, 0)} | ${r.watches ?? '-'} | ${ratio} | ${r.note} |`);
  }
  lines.push('', `Anchor (measurements.md, 1M files / 10k dirs): lsyncd ${LSYNCD_ANCHOR.readyS} s, ${LSYNCD_ANCHOR.rssMb} MB. Medians of ${RUNS} runs.`);
  return lines.join('\n');
}

/** Child mode: start one watcher on root, print {workMs, rssMb} when ready, then wait to be killed. */
async function child(kind: string, root: string): Promise<void> {
  const t0 = performance.now();
  let close: () => Promise<void> = async () => {};
  if (kind === 'inotify') {
    const { InotifyWatcher } = await import('../src/watch/inotify-watcher.ts');
    const w = new InotifyWatcher({ root, isExcluded: () => false, excludesMatchPaths: false });
    const started = performance.now();
    await w.start();
    close = () => w.close();
    process.stdout.write(`${JSON.stringify({ workMs: performance.now() - started, rssMb: process.memoryUsage().rss / 2 ** 20 })}\n`);
  } else if (kind === 'chokidar') {
    const { ChokidarWatcher } = await import('../src/watch/chokidar-watcher.ts');
    const w = new ChokidarWatcher({ root, isExcluded: () => false });
    const started = performance.now();
    await w.start();
    close = () => w.close();
    process.stdout.write(`${JSON.stringify({ workMs: performance.now() - started, rssMb: process.memoryUsage().rss / 2 ** 20 })}\n`);
  } else {
    await import('../src/watch/inotify-watcher.ts');
    await import('../src/watch/chokidar-watcher.ts');
    process.stdout.write(`${JSON.stringify({ workMs: performance.now() - t0, rssMb: process.memoryUsage().rss / 2 ** 20 })}\n`);
  }
  process.once('SIGTERM', () => void close().then(() => process.exit(0)));
  setInterval(() => {}, 60_000);
}

if (process.argv[1] && resolve(process.argv[1]) === self) {
  const [flag, kind, root] = process.argv.slice(2);
  if (flag === '--child' && kind && root) {
    await child(kind, root);
  } else if (process.getuid?.() === 0 && !inPrivateMountNs()) {
    // re-run in a private mount namespace so the tmpfs mounts never touch the host
    const ns = unshareCommand([process.execPath, self]);
    const r = spawnSync(ns.file, ns.args, { stdio: 'inherit', cwd: top, env: ns.env });
    process.exit(r.status ?? 1);
  } else {
    process.stdout.write(`${await benchWatchTable()}\n`);
  }
}
