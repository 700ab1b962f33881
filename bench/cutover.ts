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
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cli, Daemon } from '../test/helpers/daemon.ts';
import { runArticle, stopGroup, type ArticleRun } from './article.ts';
import { countWrong, readZoo, startDirtier, startZoo, type Zoo } from './cutover-zoo.ts';
import { median } from './probe.ts';
import { makeTree, scratch, timeCommand } from './tools.ts';

const SIZES = (process.env['BENCH_CUTOVER_SIZES'] ?? '10000,100000,1000000').split(',').map(Number);
const RUNS = Number(process.env['BENCH_CUTOVER_RUNS'] ?? 3);
const DIRTY = 1000;
/** the dirtying is spread over this long and aimed to end AIM_MS before the freeze: all of it in the last second */
const DIRTY_SPAN_MS = 900;
const AIM_MS = 50;

const med = (xs: number[]): number => median(xs.filter(Number.isFinite));

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
  /** freeze surveys (a survey that finds a new holder, e.g. a fresh fork, costs another round) */
  rounds: number;
  /** cutover CLI spawned → first process frozen */
  leadMs: number;
  startMs: number;
  /** (b) last dirtying write → first process frozen (negative: the freeze came first) */
  dirtyToFreezeMs: number | null;
  dirtyWrong: number | null;
  /** anything that went wrong: outcome other than completed, a writer's file missing on the share */
  problems: string[];
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
      const d = startDirtier(rig.src, rig.files, DIRTY, DIRTY_SPAN_MS, ch);
      dirtier = d.child;
      dirtyDone = d.done;
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
    const report = JSON.parse(res.stdout) as { outcome: string; message: string; problems: string[]; freezeMs: number | null; finalDelta: { paths: number; syncMs: number } | null; steps: Array<{ step: string; ms: number }> };
    const froze = daemon.records.find((r) => typeof r.msg === 'string' && r.msg.startsWith('froze '));
    const frozenAt = froze ? Number(froze['time']) - Number((froze['data'] as { durationMs: number }).durationMs) : NaN;
    let dirtyToFreezeMs: number | null = null;
    let dirtyWrong: number | null = null;
    if (dirtier && dirtyDone) {
      dirtyToFreezeMs = frozenAt - (await dirtyDone);
      dirtyWrong = countWrong(rig.src, rig.files, DIRTY, ch);
    }
    await sleep(600);
    await zoo.stop();
    const z = readZoo(rig.src, tag);
    if (report.outcome !== 'completed' || z.missing.length > 0 || z.lost > 0) {
      // keep the evidence of a run that went wrong: the report and the daemon's log
      writeFileSync(join(tmpdir(), `lsbench-cutover-${rig.files}-${tag}.json`), JSON.stringify({ report, log: daemon.stderr.slice(-400) }, null, 1));
    }
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
      rounds: froze ? Number((froze['data'] as { rounds: number }).rounds) : NaN,
      leadMs: frozenAt - cliAt,
      startMs,
      dirtyToFreezeMs,
      dirtyWrong,
      problems: [
        ...(report.outcome === 'completed' ? [] : [`${tag}: ${report.outcome}: ${report.message} (all: ${report.problems.join(' | ')})`]),
        ...(z.missing.length > 0 ? [`${tag}: not on the share after the cutover: ${z.missing.join(', ')}`] : []),
      ],
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

interface SizeResult {
  files: number;
  buildS: number;
  preseedS: number;
  a: LsRun[];
  b: LsRun[];
  art: ArticleRun[];
}

const leadsB: number[] = [];

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
      // CLI → freeze lead time, learnt from the earlier (b) runs of any size (prepare waits for an in-flight
      // batch, so it is longer than in (a)), else from (a)
      const leadB = med(leadsB);
      const leadA = med(out.a.map((r) => r.leadMs));
      const b = await livesyncRun(rig, 'dirty', `b${k}`, Number.isFinite(leadB) ? leadB : Number.isFinite(leadA) ? leadA + 150 : 500, k);
      out.b.push(b);
      leadsB.push(b.leadMs);
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
    for (const [name, all, target] of [
      ['livesync, writer zoo (a)', r.a, 0.1],
      [`livesync, ${DIRTY.toLocaleString('en')} files dirtied in the last second (b)`, r.b, 0.25],
    ] as const) {
      // medians over the completed cutovers; a rolled-back one is counted and named, not averaged in
      const outcomes = all.filter((x) => x.outcome !== 'completed').map((x) => x.outcome);
      const runs = all.filter((x) => x.outcome === 'completed');
      const gap = med(runs.map((x) => x.gapMs));
      const delta = `${msf(med(runs.map((x) => x.deltaPaths)))} paths, ${msf(med(runs.map((x) => x.deltaSyncMs)))} ms`;
      t1.push(`| ${n} | ${name}${outcomes.length ? ` (${outcomes.length} of ${all.length}: ${outcomes.join(', ')}, not in the median)` : ''} | ${sec(gap)} | ${range(runs.map((x) => x.gapMs))} | ${sec(med(runs.map((x) => x.freezeMs)))} | ${delta} | ≤ ${target} s | ${verdict(gap, target)} | ${(art / gap).toFixed(1)}× |`);
      const st = (k: string): string => msf(med(runs.map((x) => x.steps[k] ?? NaN)));
      t2.push(`| ${n} | livesync (${name.slice(-2, -1)}) | preflight ${st('preflight')}, prepare ${st('prepare')} | ${st('freeze')} (${msf(med(runs.map((x) => x.rounds)))} surveys) | ${st('final-delta')} | ${st('mount-share')} | ${st('repoint')} | ${st('thaw')} | ${msf(med(runs.map((x) => x.leadMs)))} |`);
    }
    const a = r.art;
    t1.push(`| ${n} | article, pre-seeded (STOP, full \`rsync -a --delete\`, bind, CONT + gdb chdir) | ${sec(art)} | ${range(a.map((x) => x.longestGapMs))} | — | whole tree, ${msf(med(a.map((x) => x.rsyncMs)))} ms | (anchor) | — | 1.0× |`);
    t2.push(`| ${n} | article | lsof ${msf(med(a.map((x) => x.lsofMs)))} (${msf(med(a.map((x) => x.pids)))} pids) | ${msf(med(a.map((x) => x.stopMs)))} | ${msf(med(a.map((x) => x.rsyncMs)))} | ${msf(med(a.map((x) => x.remountMs)))} | CONT + gdb ${msf(med(a.map((x) => x.contGdbMs)))} (writer's gdb ${msf(med(a.map((x) => x.gdbWriterMs)))}) | — | — |`);
    const lost = `${r.a.reduce((s, x) => s + x.lost, 0)} / ${r.b.reduce((s, x) => s + x.lost, 0)}`;
    const wrong = r.b.reduce((s, x) => s + (x.dirtyWrong ?? 0), 0);
    t3.push(`| ${n} | ${r.buildS.toFixed(1)} s | ${r.preseedS.toFixed(1)} s | ${sec(med([...r.a, ...r.b].map((x) => x.startMs)))} | ${sec(med(a.map((x) => x.preseedMs)))} | ${lost} | ${wrong} of ${DIRTY * r.b.length} | ${msf(med(r.b.map((x) => x.dirtyToFreezeMs ?? NaN)))} ms | ${a.filter((x) => x.chdirTook).length} of ${a.length} |`);
  }
  const problems = results.flatMap((r) => [...r.a, ...r.b].flatMap((x) => x.problems.map((p) => `- ${label(r.files)} ${p}`)));
  return [...t1, '', ...t2, '', 'Set-up and correctness (all runs of the size):', '', ...t3, '', problems.length > 0 ? `Problems:\n${problems.join('\n')}` : 'Problems: none.'].join('\n');
}

/** One line per method: the freeze window at each size, and how it grows from the smallest to the largest tree. */
function growth(results: SizeResult[]): string {
  const rows: Array<[string, (r: SizeResult) => number[], string]> = [
    ['livesync, writer zoo (a)', (r) => r.a.filter((x) => x.outcome === 'completed').map((x) => x.gapMs), '≤ 0.1 s'],
    [`livesync, ${DIRTY.toLocaleString('en')} files dirtied in the last second (b)`, (r) => r.b.filter((x) => x.outcome === 'completed').map((x) => x.gapMs), '≤ 0.25 s'],
    ['article, pre-seeded', (r) => r.art.map((x) => x.longestGapMs), 'anchors ≈ 0.15 s / 1.0–1.2 s / 9.5 s'],
  ];
  const first = results[0]!;
  const last = results[results.length - 1]!;
  const out = [
    `| freeze window (median) | ${results.map((r) => label(r.files)).join(' | ')} | ${label(last.files)} ÷ ${label(first.files)} | target |`,
    `|---|${results.map(() => '---|').join('')}---|---|`,
  ];
  for (const [name, pick, target] of rows) {
    out.push(`| ${name} | ${results.map((r) => sec(med(pick(r)))).join(' | ')} | ${(med(pick(last)) / med(pick(first))).toFixed(1)}× | ${target} |`);
  }
  return out.join('\n');
}

export async function benchCutover(): Promise<string> {
  const load0 = loadavg();
  const started = new Date().toISOString();
  const results: SizeResult[] = [];
  for (const files of SIZES) results.push(await benchSize(files));
  const load1 = loadavg();
  const la = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' / ');
  return [`Run ${started}, ${RUNS} rounds per size; load average (1/5/15 min) at the start ${la(load0)}, at the end ${la(load1)} (2 cores).`, '', growth(results), '', tables(results)].join('\n');
}
