/**
 * Status, metrics and flush against the real daemon (issue #4's performance goals), each with its anchor in the
 * same run. Needs root in a private mount namespace (bench/run.ts provides it): tmpfs source and target.
 *   `status --json` while a 10k-file burst is mirrored: bin/livesync's C client (the whole command, and the
 *     client alone), sampled back to back during some bursts (the p99) and, during others, in turn with the
 *     anchors (`/bin/true`, `node -e 0` with and without bin/livesync's --disable-warning flag) and the Node
 *     paths it replaced (the start-up fast path, commander); in-process socket round trips during others. Goal
 *     ≤ 50 ms. The daemon runs with a loop monitor (LOOP_MONITOR) that tells a stall of its event loop spent
 *     working from one spent waiting for a core.
 *   overhead: the 10k-file burst (first write → all on the target) on a fresh job per run, in OVERHEAD_CONFIGS:
 *     the anchor (`--no-heartbeat`, no `--metrics`), the anchor again (A/A: the noise of the method itself),
 *     heartbeat only, metrics only (scraped every second, the first scrape before the burst), both; with the
 *     heartbeat on, the burst is timed so that a beat falls due inside it (the worst case). Rounds of
 *     one run per configuration, the order rotated each round; each run is compared with the anchor run of
 *     its own round (median of those paired ratios), for the wall time and for the CPU time of the daemon
 *     (all threads, ns) plus its rsync children. Goal: heartbeat + metrics ≤ 2 % slower. On a shared 2-core
 *     machine the A/A row shows how much of a difference is noise; the idle table is the steadier figure:
 *     an idle job per configuration for IDLE_S seconds (metrics scraped every second), the extra CPU of
 *     the daemon and its rsync runs, i.e. the cost per heartbeat beat and per scrape.
 *   `flush` right after the last write: how long after that write it returns, split into the wait before the
 *     batch that carried the write, that batch, and what the flush adds after it landed (FlushRun). Goal:
 *     within one batch time, i.e. no batch of its own.
 * The burst is written by a child process, so this process samples status while the files are being written.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ControlClient } from '../src/control/client.ts';
import { jobPaths } from '../src/daemon/paths.ts';
import { HEARTBEAT_INTERVAL_MS, heartbeatCookie } from '../src/engine/cookies.ts';
import { median } from './probe.ts';
import { cliStatusWallTime, clientWallTime, latencyStats, NODE_PATHS, STATUS_TARGET_MS, verdict, type LatencyStats } from './status.ts';
import { scratch, startLivesync } from './tools.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
/** overhead rounds: each round runs every configuration once (>= 7: the spread between runs is 10-30 %) */
const OVERHEAD_ROUNDS = Math.max(7, Number(process.env['BENCH_OVERHEAD_ROUNDS'] ?? 9));
const BURST = 10_000;
const OVERHEAD_TARGET = 0.02;
/** with the heartbeat on, the burst starts this long before the next beat is due */
const BEAT_INTO_BURST_MS = 300;
/** a burst this slow is an outlier worth a look: its daemon log goes to stderr */
const SLOW_BURST_S = 5;
const NAME = 'bench'; // bench/tools.ts startLivesync's job name

const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const pct = (ratio: number): string => `${ratio >= 1 ? '+' : ''}${fmt((ratio - 1) * 100)} %`;

/**
 * Writes `n` small files into `dir` from a child process (this process stays free to sample and to poll the
 * target); resolves with the times (ms epoch) of its first and last write, so Node's start-up is not counted.
 */
function burstInChild(dir: string, n: number): Promise<{ firstAt: number; lastAt: number }> {
  const script =
    "const fs=require('fs');const [d,n]=process.argv.slice(1);fs.mkdirSync(d,{recursive:true});const t0=Date.now();" +
    "for(let i=0;i<+n;i++)fs.writeFileSync(d+'/b'+String(i).padStart(6,'0'),'b'+i);process.stdout.write(t0+' '+Date.now())";
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, dir, String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.on('close', (code) => {
      const [firstAt, lastAt] = out.split(' ').map(Number);
      if (code === 0 && firstAt !== undefined && lastAt !== undefined) resolve({ firstAt, lastAt });
      else reject(new Error(`burst writer exited ${code}`));
    });
  });
}

/** Resolves (ms epoch) once all `n` files of a burst directory are on the target (polled every 2 ms). */
async function landed(dir: string, n: number): Promise<number> {
  const last = join(dir, `b${String(n - 1).padStart(6, '0')}`);
  for (;;) {
    if (existsSync(last) && readdirSync(dir).length >= n) return Date.now();
    await sleep(2);
  }
}

async function socketStatusMs(stateDir: string): Promise<{ ms: number; lagMs: number }> {
  const t0 = performance.now();
  const client = await ControlClient.connect(jobPaths(stateDir, NAME));
  const s = await client.request('status', {});
  const ms = performance.now() - t0;
  await client[Symbol.asyncDispose]();
  return { ms, lagMs: s.lagMs };
}

async function wallTime(file: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => spawn(file, args, { stdio: 'ignore' }).on('close', (c) => (c === 0 ? resolve() : reject(new Error(`${file} exited ${c}`)))));
  return performance.now() - t0;
}

/**
 * Loaded into the daemon of the status-during-bursts job (NODE_OPTIONS=--import=data:...): every stall of its
 * event loop over STALL_MS (a 1 ms interval timer that fired late) with the main thread's CPU time during it, so
 * a slow answer can be told apart: the loop busy with work (CPU close to the stall) or the daemon waiting for a
 * core (CPU close to 0). JSON [[endAtMs, stallMs, cpuMs], ...] to $LIVESYNC_BENCH_LOOP_OUT at exit.
 */
const STALL_MS = 10;
const LOOP_MONITOR = `import { writeFileSync } from 'node:fs';
const out = process.env.LIVESYNC_BENCH_LOOP_OUT;
if (out) {
  const stalls = [];
  let last = performance.now();
  let lastCpu = process.threadCpuUsage();
  setInterval(() => {
    const now = performance.now();
    const cpu = process.threadCpuUsage();
    const late = now - last - 1;
    if (late > ${STALL_MS}) stalls.push([Date.now(), Math.round(late * 10) / 10, Math.round((cpu.user + cpu.system - lastCpu.user - lastCpu.system) / 100) / 10]);
    last = now;
    lastCpu = cpu;
  }, 1).unref();
  process.on('exit', () => writeFileSync(out, JSON.stringify(stalls)));
}`;

/** Starts the bench job with LOOP_MONITOR loaded into its daemon (the environment is read at spawn time). */
async function startMonitored(src: string, dst: string, state: string, out: string): ReturnType<typeof startLivesync> {
  const saved = { options: process.env['NODE_OPTIONS'], out: process.env['LIVESYNC_BENCH_LOOP_OUT'] };
  process.env['NODE_OPTIONS'] = `${saved.options ?? ''} --import=data:text/javascript,${encodeURIComponent(LOOP_MONITOR)}`.trim();
  process.env['LIVESYNC_BENCH_LOOP_OUT'] = out;
  const started = startLivesync(src, dst, state);
  for (const [key, value] of [['NODE_OPTIONS', saved.options], ['LIVESYNC_BENCH_LOOP_OUT', saved.out]] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  return started;
}

interface LoopReport {
  /** stalls over 20 ms inside the C-client bursts */
  stalls: number;
  longestMs: number;
  /** of those, the ones during which the main thread ran for at least half the stall */
  busy: number;
  /** the most CPU the main thread used within one stall */
  longestCpuMs: number;
}

function loopReport(file: string, windows: Array<[number, number]>): LoopReport | null {
  if (!existsSync(file)) return null;
  const stalls = (JSON.parse(readFileSync(file, 'utf8')) as Array<[number, number, number]>).filter(([at, ms]) => ms > 20 && windows.some(([a, b]) => at >= a && at - ms <= b));
  return {
    stalls: stalls.length,
    longestMs: Math.max(0, ...stalls.map(([, ms]) => ms)),
    busy: stalls.filter(([, ms, cpu]) => cpu >= ms / 2).length,
    longestCpuMs: Math.max(0, ...stalls.map(([, , cpu]) => cpu)),
  };
}

const PROCESS_VARIANTS = ['spawnFloor', 'node0', 'node0Flag', 'cli', 'client', 'nodeFast', 'commander'] as const;
type ProcessVariant = (typeof PROCESS_VARIANTS)[number];

interface StatusDuringBurst {
  /** one of each per turn, the order rotated */
  inTurn: Record<ProcessVariant, LatencyStats>;
  /** C client bursts: `livesync status --json`, the client alone and `/bin/true`, back to back */
  cli: LatencyStats;
  client: LatencyStats;
  spawnFloor: LatencyStats;
  socket: LatencyStats;
  socketWithLag: number;
  /** when the C client bursts ran (ms epoch): the daemon's loop stalls are looked at inside these */
  windows: Array<[number, number]>;
}

/**
 * Status answered while bursts are mirrored, three kinds of burst in turn: every process variant one after the
 * other (anchors, the C path, the Node paths), the C path alone sampled back to back with `/bin/true` (enough samples for a p99),
 * and in-process socket round trips (the daemon's answer without any process start).
 */
async function statusDuringBursts(src: string, dst: string, state: string, socketPath: string): Promise<StatusDuringBurst> {
  const inTurn = Object.fromEntries(PROCESS_VARIANTS.map((k) => [k, [] as number[]])) as Record<ProcessVariant, number[]>;
  const measure: Record<ProcessVariant, () => Promise<number>> = {
    spawnFloor: () => wallTime('/bin/true', []),
    node0: () => wallTime(process.execPath, ['-e', '0']),
    node0Flag: () => wallTime(process.execPath, ['--disable-warning=ExperimentalWarning', '-e', '0']),
    cli: () => cliStatusWallTime(state, NAME),
    client: () => clientWallTime(socketPath),
    nodeFast: () => cliStatusWallTime(state, NAME, NODE_PATHS.nodeFast),
    commander: () => cliStatusWallTime(state, NAME, NODE_PATHS.commander),
  };
  const rapid = { cli: [] as number[], client: [] as number[], spawnFloor: [] as number[] };
  const rapidOrder = ['cli', 'client', 'spawnFloor'] as const;
  const socket: number[] = [];
  const windows: Array<[number, number]> = [];
  let socketWithLag = 0;
  for (const k of PROCESS_VARIANTS) await measure[k](); // fills the compile cache, warms the page cache
  for (let run = 0; run < 3 * RUNS; run++) {
    const dir = `st${run}`;
    const t0 = Date.now();
    const written = burstInChild(join(src, dir), BURST);
    let done = false;
    void written.then(() => landed(join(dst, dir), BURST)).finally(() => (done = true));
    for (let turn = run; !done; turn++) {
      if (run % 3 === 0) {
        // one of each per turn, the order rotated, so none always runs at the same point of the burst
        for (let i = 0; i < PROCESS_VARIANTS.length; i++) {
          const k = PROCESS_VARIANTS[(turn + i) % PROCESS_VARIANTS.length]!;
          inTurn[k].push(await measure[k]());
        }
      } else if (run % 3 === 1) {
        for (let i = 0; i < rapidOrder.length; i++) {
          const k = rapidOrder[(turn + i) % rapidOrder.length]!;
          rapid[k].push(await measure[k]());
        }
        await sleep(2);
      } else {
        const one = await socketStatusMs(state);
        socket.push(one.ms);
        if (one.lagMs > 0) socketWithLag += 1;
        await sleep(5);
      }
    }
    if (run % 3 === 1) windows.push([t0, Date.now()]);
    await written;
  }
  return {
    inTurn: Object.fromEntries(PROCESS_VARIANTS.map((k) => [k, latencyStats(inTurn[k])])) as Record<ProcessVariant, LatencyStats>,
    cli: latencyStats(rapid.cli),
    client: latencyStats(rapid.client),
    spawnFloor: latencyStats(rapid.spawnFloor),
    socket: latencyStats(socket),
    socketWithLag,
    windows,
  };
}

/**
 * One flush right after the last write, on a job without heartbeat (its cookie batches would blur which batch
 * carried what). W = the last write, R = flush returned (client side); the carrying batches are those that
 * started at or after W and landed by R (normally one; two when the write's events reached the daemon on both
 * sides of a batch start), S = the first one's start, L = the last one's landing. "Within one batch time of the
 * last write" means the flush costs no batch of its own: it returns as the batch carrying the write lands, so
 * R − W ≤ (S − W) + (L − S) + FLUSH_SLACK_MS, i.e. R − L ≤ FLUSH_SLACK_MS.
 */
interface FlushRun {
  /** R − W */
  afterWriteMs: number;
  /** S − W: the debounce, or a batch that was already in flight */
  waitMs: number;
  /** L − S */
  batchMs: number;
  /** R − L: what the flush adds once the carrying batch landed */
  tailMs: number;
  /** how many batches carried the write */
  batches: number;
  /** anchor: a `hello` round trip on the same connection right after (what delivering any answer costs now) */
  helloMs: number;
}

/** answer delivery: the daemon wakes the flush, writes the answer, this process reads it */
const FLUSH_SLACK_MS = 10;

/** Batches the daemon logged: landing time and duration. */
function batchesFrom(log: string[]): Array<{ at: number; durationMs: number }> {
  return log.filter((l) => l.includes('"event":"batch-done"')).map((l) => JSON.parse(l) as { time: number; durationMs: number }).map((b) => ({ at: b.time, durationMs: b.durationMs }));
}

async function flushAfter(write: () => Promise<number> | number, state: string, log: string[]): Promise<FlushRun> {
  await using client = await ControlClient.connect(jobPaths(state, NAME));
  const lastWrite = await write();
  const result = await client.request('flush', { timeoutMs: 60_000 });
  const returned = Date.now();
  if (!result.ok) throw new Error(`flush failed: ${result.message}`);
  const t0 = performance.now();
  await client.request('hello', {});
  const helloMs = performance.now() - t0;
  await sleep(20); // let the last log lines arrive
  const carrying = batchesFrom(log).filter((b) => b.at - b.durationMs >= lastWrite && b.at <= returned + 5);
  const first = carrying[0];
  const last = carrying.at(-1);
  if (!first || !last) return { afterWriteMs: returned - lastWrite, waitMs: Number.NaN, batchMs: Number.NaN, tailMs: Number.NaN, batches: 0, helloMs };
  const start = first.at - first.durationMs;
  return { afterWriteMs: returned - lastWrite, waitMs: start - lastWrite, batchMs: last.at - start, tailMs: returned - last.at, batches: carrying.length, helloMs };
}

function flushRow(label: string, runs: FlushRun[]): string {
  const m = (of: (r: FlushRun) => number): string => fmt(median(runs.map(of)), 0);
  const tails = runs.map((r) => r.tailMs);
  const worst = Math.max(...tails.map((t) => (Number.isNaN(t) ? Infinity : t)));
  const within = tails.filter((t) => t <= FLUSH_SLACK_MS).length;
  const hello = runs.map((r) => r.helloMs);
  const two = runs.filter((r) => r.batches > 1).length;
  return `| ${label} | ${runs.length} | ${m((r) => r.afterWriteMs)} | ${m((r) => r.waitMs)} | ${m((r) => r.batchMs)}${two > 0 ? ` (${two} of ${runs.length} in 2+ batches)` : ''} | ${m((r) => r.tailMs)} (max ${fmt(worst, 0)}) | ${fmt(median(hello))} (max ${fmt(Math.max(...hello))}) | ${fmt(median(runs.map((r) => r.afterWriteMs / r.batchMs)), 2)} | ${within} of ${runs.length}: ${within === runs.length ? 'met' : '**not met**'} |`;
}

/** CPU time of a process's threads in ms, ns-precise (/proc/PID/task/TID/schedstat: run time first). */
function threadsCpuMs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
    } catch {
      // the thread exited meanwhile
    }
  }
  return ns / 1e6;
}

/** CPU time of a process's reaped children (its rsync runs) in ms: /proc/PID/stat cutime + cstime, 10 ms ticks. */
function childrenCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) * 10;
}

/** The configurations compared: one row each; the first is the anchor every other run is paired with. */
const OVERHEAD_CONFIGS: ReadonlyArray<{ label: string; args: string[] }> = [
  // the anchor: neither feature
  { label: 'anchor: `--no-heartbeat`, no `--metrics`', args: ['--no-heartbeat'] },
  // the anchor again: how far apart two identical configurations come out (the method's own noise)
  { label: 'A/A: the anchor again', args: ['--no-heartbeat'] },
  // the heartbeat cookie every 5 s
  { label: 'heartbeat only', args: [] },
  // the metrics endpoint, scraped every second
  { label: '`--metrics` only (scraped every second)', args: ['--no-heartbeat', '--metrics', '127.0.0.1:0'] },
  // what users run: both
  { label: 'heartbeat + `--metrics` (scraped every second)', args: ['--metrics', '127.0.0.1:0'] },
];

interface BurstRun {
  /** first write → all on the target */
  ms: number;
  daemonCpuMs: number;
  rsyncCpuMs: number;
  /** batches the daemon logged from the first write until 100 ms after the landing */
  batches: number;
  /** with the heartbeat on: a beat was written while the burst was in flight */
  beatInside: boolean;
}

/** When the daemon last wrote its heartbeat cookie (the cookie holds Date.now() of the write), or null. */
function lastBeatAt(src: string): number | null {
  try {
    return Number(readFileSync(join(src, heartbeatCookie(NAME)), 'latin1').trim());
  } catch {
    return null;
  }
}

/** One 10k burst on a fresh job started with `extra`; scrapes the metrics every second when it has them. */
async function burstRun(extra: string[]): Promise<BurstRun> {
  const src = scratch('st-src');
  const dst = scratch('st-dst');
  const state = scratch('st-state', '16m');
  try {
    const job = await startLivesync(src.path, dst.path, state.path, extra);
    try {
      await sleep(300); // the first heartbeat batch (right after the seed) is done
      // With the heartbeat on, start the burst so that the next beat falls into it, BEAT_INTO_BURST_MS after the
      // first write: the heartbeat's cost in a burst is then measured, not skipped (an upper bound: in real use a
      // beat falls into a 1 s burst one time in five).
      const beat = lastBeatAt(src.path);
      if (beat !== null) await sleep(Math.max(0, beat + HEARTBEAT_INTERVAL_MS - BEAT_INTO_BURST_MS - Date.now()));
      const url = (JSON.parse(readFileSync(jobPaths(state.path, NAME).record, 'utf8')) as { metrics?: string }).metrics;
      // the first fetch() loads undici in this process: before the burst, not during it
      if (url) await (await fetch(url)).text();
      const scraper = url ? setInterval(() => void fetch(url).then((r) => r.text()), 1000) : null;
      const pid = job.child.pid!;
      const logAt = job.log.length;
      const cpu0 = threadsCpuMs(pid);
      const rsync0 = childrenCpuMs(pid);
      const written = await burstInChild(join(src.path, 'burst'), BURST);
      const landedAt = await landed(join(dst.path, 'burst'), BURST);
      await sleep(100); // the batch's rsync exits and is reaped
      const daemonCpuMs = threadsCpuMs(pid) - cpu0;
      const rsyncCpuMs = childrenCpuMs(pid) - rsync0;
      if (scraper) clearInterval(scraper);
      const ms = landedAt - written.firstAt;
      if (ms > SLOW_BURST_S * 1000) process.stderr.write(`status bench: slow burst (${fmt(ms / 1000, 2)} s, ${extra.join(' ')}); daemon log tail:\n${job.log.slice(-25).join('\n')}\n`);
      const batches = batchesFrom(job.log.slice(logAt)).length;
      const beatAt = lastBeatAt(src.path);
      return { ms, daemonCpuMs, rsyncCpuMs, batches, beatInside: beatAt !== null && beatAt >= written.firstAt && beatAt <= landedAt };
    } finally {
      await job.stop();
    }
  } finally {
    src.dispose();
    dst.dispose();
    state.dispose();
  }
}

/** an idle job is watched this long per configuration: CPU per heartbeat beat and per scrape */
const IDLE_S = 20;

interface IdleCost {
  daemonCpuMs: number;
  rsyncCpuMs: number;
  batches: number;
  scrapes: number;
}

/** An idle job (nothing written) for IDLE_S seconds, scraped every second when it has metrics. */
async function idleRun(extra: string[]): Promise<IdleCost> {
  const src = scratch('st-src');
  const dst = scratch('st-dst');
  const state = scratch('st-state', '16m');
  try {
    const job = await startLivesync(src.path, dst.path, state.path, extra);
    try {
      await sleep(1000);
      const url = (JSON.parse(readFileSync(jobPaths(state.path, NAME).record, 'utf8')) as { metrics?: string }).metrics;
      if (url) await (await fetch(url)).text();
      const pid = job.child.pid!;
      const logAt = job.log.length;
      const cpu0 = threadsCpuMs(pid);
      const rsync0 = childrenCpuMs(pid);
      let scrapes = 0;
      for (let i = 0; i < IDLE_S; i++) {
        if (url) {
          await (await fetch(url)).text();
          scrapes += 1;
        }
        await sleep(1000);
      }
      return { daemonCpuMs: threadsCpuMs(pid) - cpu0, rsyncCpuMs: childrenCpuMs(pid) - rsync0, batches: batchesFrom(job.log.slice(logAt)).length, scrapes };
    } finally {
      await job.stop();
    }
  } finally {
    src.dispose();
    dst.dispose();
    state.dispose();
  }
}

/** What heartbeat and metrics cost on an idle job: the same configurations as the burst table, A/A left out. */
async function idleTable(): Promise<string[]> {
  const rows: string[] = [];
  let anchor: IdleCost | null = null;
  for (const { label, args } of OVERHEAD_CONFIGS.filter((c) => !c.label.startsWith('A/A'))) {
    const r = await idleRun(args);
    anchor ??= r;
    const extra = r.daemonCpuMs + r.rsyncCpuMs - anchor.daemonCpuMs - anchor.rsyncCpuMs;
    const per = r === anchor ? '' : `${fmt(extra / IDLE_S, 2)} ms/s (${fmt((extra / (IDLE_S * 1000)) * 100, 2)} % of one core)`;
    rows.push(`| ${label} | ${fmt(r.daemonCpuMs, 1)} | ${fmt(r.rsyncCpuMs, 0)} | ${r.batches} | ${r.scrapes} | ${per} |`);
  }
  return [
    `| idle job for ${IDLE_S} s (nothing written) | daemon CPU ms (all threads) | rsync CPU ms | batches (heartbeat beats) | scrapes | extra CPU vs the anchor |`,
    '|---|---|---|---|---|---|',
    ...rows,
  ];
}

/** Rounds of one run per configuration, the order rotated each round. runs[config][round]. */
async function overheadRuns(rounds: number): Promise<BurstRun[][]> {
  const runs: BurstRun[][] = OVERHEAD_CONFIGS.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < OVERHEAD_CONFIGS.length; i++) {
      const c = (round + i) % OVERHEAD_CONFIGS.length;
      runs[c]!.push(await burstRun(OVERHEAD_CONFIGS[c]!.args));
    }
  }
  return runs;
}

function overheadTable(runs: BurstRun[][]): string[] {
  const anchor = runs[0]!;
  const cpu = (r: BurstRun): number => r.daemonCpuMs + r.rsyncCpuMs;
  const paired = (rs: BurstRun[], of: (r: BurstRun) => number): number => median(rs.map((r, i) => of(r) / of(anchor[i]!)));
  const rows = OVERHEAD_CONFIGS.map(({ label }, c) => {
    const rs = runs[c]!;
    const wall = rs.map((r) => r.ms);
    const wallRatio = paired(rs, (r) => r.ms);
    const cpuRatio = paired(rs, cpu);
    // the daemon alone (ns-precise, and not moved by how the burst happened to split into rsync runs)
    const daemonRatio = paired(rs, (r) => r.daemonCpuMs);
    const addedMs = median(rs.map((r, i) => r.daemonCpuMs - anchor[i]!.daemonCpuMs));
    const goal = c === OVERHEAD_CONFIGS.length - 1 ? ` — goal ≤ +${OVERHEAD_TARGET * 100} %: ${wallRatio <= 1 + OVERHEAD_TARGET ? 'met' : '**not met**'}` : '';
    const vs = c === 0 ? '1.00' : `${fmt(wallRatio, 3)} (${pct(wallRatio)})${goal}`;
    const beats = rs.filter((r) => r.beatInside).length;
    return `| ${label} | ${rs.length} | ${fmt(median(wall), 0)} | ${fmt(Math.min(...wall), 0)}–${fmt(Math.max(...wall), 0)} | ${vs} | ${fmt(median(rs.map((r) => r.daemonCpuMs)), 0)} | ${c === 0 ? '1.00' : `${fmt(daemonRatio, 3)} (${addedMs >= 0 ? '+' : ''}${fmt(addedMs)} ms)`} | ${fmt(median(rs.map((r) => r.rsyncCpuMs)), 0)} | ${c === 0 ? '1.00' : `${fmt(cpuRatio, 3)} (${pct(cpuRatio)})`} | ${fmt(median(rs.map((r) => r.batches)), 0)} | ${beats > 0 ? `${beats} of ${rs.length}` : ''} |`;
  });
  return [
    `| ${BURST.toLocaleString('en-US')}-file burst, first write → all on target, fresh job per run | runs | median ms | range ms | wall vs the anchor of the same round (median of ratios) | daemon CPU ms (all threads), median | daemon CPU vs the anchor of the same round (median of ratios; of differences) | rsync CPU ms, median | daemon + rsync CPU vs the anchor of the same round | batches (median) | heartbeat written during the burst |`,
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ];
}

export async function benchStatusE2E(): Promise<string> {
  const src = scratch('st-src');
  const dst = scratch('st-dst');
  const state = scratch('st-state', '16m');
  let during: StatusDuringBurst;
  let loop: LoopReport | null;
  const single: FlushRun[] = [];
  const bursts: FlushRun[] = [];
  try {
    const loopOut = join(state.path, 'loop-stalls.json');
    const monitored = await startMonitored(src.path, dst.path, state.path, loopOut);
    try {
      during = await statusDuringBursts(src.path, dst.path, state.path, jobPaths(state.path, NAME).socket);
    } finally {
      await monitored.stop();
    }
    loop = loopReport(loopOut, during.windows);
    const job = await startLivesync(src.path, dst.path, state.path, ['--no-heartbeat']);
    try {
      for (let i = 0; i < 20; i++) {
        single.push(await flushAfter(() => (writeFileSync(join(src.path, `one-${i}`), `one ${i}\n`), Date.now()), state.path, job.log));
        await sleep(250); // the previous flush's cookie removal is synced meanwhile: the write meets an idle job
      }
      for (let run = 0; run < RUNS; run++) {
        bursts.push(await flushAfter(() => burstSync(join(src.path, `fl${run}`), BURST), state.path, job.log));
      }
    } finally {
      await job.stop();
    }
  } finally {
    src.dispose();
    dst.dispose();
    state.dispose();
  }
  const overhead = await overheadRuns(OVERHEAD_ROUNDS);
  const idle = await idleTable();
  const d = during;
  const t = d.inTurn;
  const statusRow = (label: string, s: LatencyStats, goal: boolean): string =>
    `| ${label} | ${s.n} | ${fmt(s.medianMs)} | ${fmt(s.p99Ms)} | ${fmt(s.maxMs)} | ${goal ? `≤ ${STATUS_TARGET_MS}: ${verdict(s)}` : ''} | ${fmt(s.medianMs / t.node0Flag.medianMs, 2)} | ${fmt(s.medianMs / t.nodeFast.medianMs, 2)} |`;
  const loopLine =
    loop === null
      ? 'Daemon event loop: no stall record (the daemon did not exit normally).'
      : `Daemon event loop during the C-client bursts (a 1 ms timer in the daemon, stalls over 20 ms): ${loop.stalls} stalls, longest ${fmt(loop.longestMs)} ms; ` +
        `${loop.busy} of them with the main thread running for at least half the stall (the loop busy with work), the rest waiting for a core; ` +
        `the most CPU the loop used within one stall: ${fmt(loop.longestCpuMs)} ms.`;
  return [
    `Real daemon, tmpfs source and target, ${BURST.toLocaleString('en-US')}-file bursts written by a child process while status is sampled (${3 * RUNS} bursts: ${RUNS} with every process variant in turn, ${RUNS} with the C path back to back, ${RUNS} with socket round trips). Load average at the start of the status section: ${loadavg().map((l) => l.toFixed(2)).join(' / ')}.`,
    '',
    '| `status --json` during a burst | n | median ms | p99 ms | max ms | goal | median vs `node --disable-warning=… -e 0` | median vs the Node fast path |',
    '|---|---|---|---|---|---|---|---|',
    statusRow('**`livesync status --json`** (bin/livesync → C client), back to back', d.cli, true),
    statusRow('the C client alone (no shim), back to back: the daemon\'s answer + one process start', d.client, false),
    statusRow('anchor: `/bin/true`, back to back with the two rows above (one process start)', d.spawnFloor, false),
    statusRow('anchor: `/bin/true` (in turn with the rows below)', t.spawnFloor, false),
    statusRow('anchor: `node -e 0`', t.node0, false),
    statusRow("anchor: `node --disable-warning=ExperimentalWarning -e 0` (bin/livesync's flags)", t.node0Flag, false),
    statusRow('`livesync status --json` (C client), in turn', t.cli, true),
    statusRow('the C client alone, in turn', t.client, false),
    statusRow('Node path: start-up fast path, compile cache (LIVESYNC_NO_NATIVE_STATUS=1), in turn', t.nodeFast, true),
    statusRow('Node path: commander (LIVESYNC_NO_FAST_PATH=1), in turn', t.commander, true),
    statusRow(`socket round trip in this process (connect, status, close; ${d.socketWithLag} of ${d.socket.n} saw lag > 0)`, d.socket, false),
    '',
    loopLine,
    '',
    ...overheadTable(overhead),
    '',
    ...idle,
    '',
    `| \`flush\` right after the last write W (socket, job without heartbeat); S, L: start and landing of the batch carrying W; R: flush returned | n | R − W, median ms | S − W (debounce or batch in flight), median ms | L − S (the carrying batch), median ms | R − L, median ms | anchor: a \`hello\` round trip right after, median ms | (R − W) / (L − S), median | within one batch time: R − L ≤ ${FLUSH_SLACK_MS} ms (no batch of its own) |`,
    '|---|---|---|---|---|---|---|---|---|',
    flushRow('one small file', single),
    flushRow(`${BURST.toLocaleString('en-US')}-file burst (written in this process)`, bursts),
  ].join('\n');
}

/** A burst written synchronously in this process (as bench/probe.ts does); returns the time of the last write. */
function burstSync(dir: string, n: number): number {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) writeFileSync(join(dir, `b${String(i).padStart(6, '0')}`), `b${i}`);
  return Date.now();
}
