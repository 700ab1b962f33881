/**
 * Mirror engine benchmarks (issue #2), each side by side with its anchors in the same run, medians of RUNS:
 *   single small write → on target (p50/p99)   livesync vs lsyncd
 *   10,000 new files at once → all on target    livesync vs lsyncd vs raw `rsync --files-from` of the same list
 *   10,000 deletes → gone                       livesync vs lsyncd
 *   seed of a 100k-file tree                    livesync (1 and 2 workers) vs plain `rsync -a`
 *   idle CPU over 10 s, RSS after the bursts    livesync vs lsyncd
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { burst, deletes, latency, median } from './probe.ts';
import { lastTreeFile, makeTree, scratch, startLivesync, startLsyncd, timeCommand, type Running } from './tools.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const TREE = Number(process.env['BENCH_TREE'] ?? 20_000);
const SEED_TREE = Number(process.env['BENCH_SEED_TREE'] ?? 100_000);

interface ToolRun {
  p50: number;
  p99: number;
  burstS: number;
  deleteS: number;
  idleCpuPct: number;
  rssMb: number;
}

async function oneRun(tool: 'livesync' | 'lsyncd'): Promise<ToolRun> {
  const src = scratch('src');
  const dst = scratch('dst');
  const work = scratch('work', '64m');
  try {
    makeTree(src.path, TREE);
    let running: Running;
    if (tool === 'livesync') running = await startLivesync(src.path, dst.path, work.path);
    else running = await startLsyncd(src.path, dst.path, work.path, lastTreeFile(dst.path, TREE));
    try {
      const lat = await latency(src.path, dst.path, 40, 60);
      const b = await burst(src.path, dst.path, 10_000);
      const d = await deletes(src.path, dst.path);
      const cpu0 = running.cpuTicks();
      await new Promise((r) => setTimeout(r, 10_000));
      const idleCpuPct = running.cpuTicks() - cpu0; // ticks of 10 ms over 10 s = percent
      return { p50: lat.p50, p99: lat.p99, burstS: b.convergeS ?? NaN, deleteS: d.convergeS ?? NaN, idleCpuPct, rssMb: running.rssKb() / 1024 };
    } finally {
      await running.stop();
    }
  } finally {
    src.dispose();
    dst.dispose();
    work.dispose();
  }
}

/** Raw rsync of the same 10k-file list the burst writes, onto an empty target: the floor for a burst. */
function rawRsyncBurst(): number {
  const src = scratch('raw-src');
  const dst = scratch('raw-dst');
  try {
    mkdirSync(join(src.path, 'burst'));
    const names: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const n = `burst/b${String(i).padStart(6, '0')}`;
      writeFileSync(join(src.path, n), `b${i}`);
      names.push(n);
    }
    const list = Buffer.from(names.join('\0') + '\0');
    return timeCommand('rsync', ['-a', '--from0', '--files-from=-', `${src.path}/`, `${dst.path}/`], list) / 1000;
  } finally {
    src.dispose();
    dst.dispose();
  }
}

async function seedRun(workers: number | 'rsync'): Promise<number> {
  const src = scratch('seed-src');
  const dst = scratch('seed-dst');
  const work = scratch('seed-work', '64m');
  try {
    makeTree(src.path, SEED_TREE);
    if (workers === 'rsync') return timeCommand('rsync', ['-a', `${src.path}/`, `${dst.path}/`]) / 1000;
    const running = await startLivesync(src.path, dst.path, work.path, ['--seed-workers', String(workers), '--no-heartbeat']);
    await running.stop();
    if (readdirSync(join(dst.path, 'tree')).length === 0) throw new Error('seed copied nothing');
    return (running.seedMs ?? NaN) / 1000;
  } finally {
    src.dispose();
    dst.dispose();
    work.dispose();
  }
}

const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');

export async function benchMirror(): Promise<string> {
  // absolute numbers move with the machine's load (other work on a shared machine): recorded beside them
  const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' / ');
  const loadAtStart = load();
  const runs: Record<'livesync' | 'lsyncd', ToolRun[]> = { livesync: [], lsyncd: [] };
  const raw: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    runs.livesync.push(await oneRun('livesync'));
    runs.lsyncd.push(await oneRun('lsyncd'));
    raw.push(rawRsyncBurst());
  }
  const m = (tool: 'livesync' | 'lsyncd', key: keyof ToolRun): number => median(runs[tool].map((r) => r[key]));
  const rawS = median(raw);
  const seeds: Record<string, number> = {};
  for (const w of ['rsync', 1, 2] as const) {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) times.push(await seedRun(w));
    seeds[String(w)] = median(times);
  }
  const rows = [
    `| metric (tree ${TREE} files, tmpfs → tmpfs, medians of ${RUNS}) | livesync | lsyncd 2.2.3 (delay=0) | raw rsync | livesync / anchor |`,
    '|---|---|---|---|---|',
    `| single write → target, p50 (ms) | ${f1(m('livesync', 'p50'))} | ${f1(m('lsyncd', 'p50'))} | | ${f2(m('livesync', 'p50') / m('lsyncd', 'p50'))} × lsyncd |`,
    `| single write → target, p99 (ms) | ${f1(m('livesync', 'p99'))} | ${f1(m('lsyncd', 'p99'))} | | ${f2(m('livesync', 'p99') / m('lsyncd', 'p99'))} × lsyncd |`,
    `| 10,000 new files → all on target (s) | ${f2(m('livesync', 'burstS'))} | ${f2(m('lsyncd', 'burstS'))} | ${f2(rawS)} | ${f2(m('livesync', 'burstS') / rawS)} × raw rsync |`,
    `| 10,000 deletes → gone (s) | ${f2(m('livesync', 'deleteS'))} | ${f2(m('lsyncd', 'deleteS'))} | | ${f2(m('livesync', 'deleteS') / m('lsyncd', 'deleteS'))} × lsyncd |`,
    `| idle CPU over 10 s (%) | ${f2(m('livesync', 'idleCpuPct'))} | ${f2(m('lsyncd', 'idleCpuPct'))} | | |`,
    `| RSS after the bursts (MB) | ${f1(m('livesync', 'rssMb'))} | ${f1(m('lsyncd', 'rssMb'))} | | |`,
    `| seed of ${SEED_TREE} files (s), 1 worker | ${f2(seeds['1']!)} | | ${f2(seeds['rsync']!)} (rsync -a) | ${f2(seeds['1']! / seeds['rsync']!)} × rsync -a |`,
    `| seed of ${SEED_TREE} files (s), 2 workers | ${f2(seeds['2']!)} | | | ${f2(seeds['2']! / seeds['rsync']!)} × rsync -a |`,
  ];
  rows.push('', `Load average (1/5/15 min) at the start ${loadAtStart}, at the end ${load()} (2 cores: above 2, the tools wait for the CPU).`);
  return rows.join('\n');
}
