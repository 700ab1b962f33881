/**
 * Status, metrics and flush against the real daemon (issue #4's performance goals), each with its anchor in the
 * same run. Needs root in a private mount namespace (bench/run.ts provides it): tmpfs source and target.
 *   `status --json` while a 10k-file burst is mirrored: the real CLI (its start-up fast path, and the commander
 *     path it falls back to), one socket round trip (connect, status, close); anchors `node -e 0` with and
 *     without bin/livesync's --disable-warning flag, sampled in turn under the same bursts. Goal ≤ 50 ms.
 *   overhead: the 10k-file burst (first write → all on the target) on a fresh job per run, in OVERHEAD_CONFIGS:
 *     the anchor (`--no-heartbeat`, no `--metrics`), the anchor again (A/A: the noise of the method itself),
 *     heartbeat only, metrics only (scraped every second, the first scrape before the burst), both; with the
 *     heartbeat on, the burst is timed so that a beat falls into it (the worst case). Rounds of
 *     one run per configuration, the order rotated each round; each run is compared with the anchor run of
 *     its own round (median of those paired ratios), for the wall time and for the CPU time of the daemon
 *     (all threads, ns) plus its rsync children. Goal: heartbeat + metrics ≤ 2 % slower. On a shared 2-core
 *     machine the A/A row shows how much of a difference is noise; the idle table is the steadier figure:
 *     an idle job per configuration for IDLE_S seconds (metrics scraped every second), the extra CPU of
 *     the daemon and its rsync runs, i.e. the cost per heartbeat beat and per scrape.
 *   `flush` right after the last write: how long after that write it returns, against the batch that carried
 *     the write (from the daemon's batch-done log). Goal: within one batch time.
 * The burst is written by a child process, so this process samples status while the files are being written.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ControlClient } from '../src/control/client.ts';
import { jobPaths } from '../src/daemon/paths.ts';
import { HEARTBEAT_INTERVAL_MS, heartbeatCookie } from '../src/engine/cookies.ts';
import { median } from './probe.ts';
import { cliStatusWallTime, latencyStats, STATUS_TARGET_MS, type LatencyStats } from './status.ts';
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

interface StatusDuringBurst {
  cli: LatencyStats;
  cliCommander: LatencyStats;
  socket: LatencyStats;
  node0: LatencyStats;
  node0Flag: LatencyStats;
  socketWithLag: number;
}

/** Status answered while bursts are mirrored: process bursts (anchors and both CLI paths in turn) and socket bursts. */
async function statusDuringBursts(src: string, dst: string, state: string): Promise<StatusDuringBurst> {
  const samples = { cli: [] as number[], cliCommander: [] as number[], node0: [] as number[], node0Flag: [] as number[] };
  const socket: number[] = [];
  let socketWithLag = 0;
  const processes: Array<[keyof typeof samples, () => Promise<number>]> = [
    ['node0', () => wallTime(process.execPath, ['-e', '0'])],
    ['node0Flag', () => wallTime(process.execPath, ['--disable-warning=ExperimentalWarning', '-e', '0'])],
    ['cli', () => cliStatusWallTime(state, NAME)],
    ['cliCommander', () => cliStatusWallTime(state, NAME, { LIVESYNC_NO_FAST_PATH: '1' })],
  ];
  await cliStatusWallTime(state, NAME); // fills the compile cache
  await cliStatusWallTime(state, NAME, { LIVESYNC_NO_FAST_PATH: '1' });
  for (let run = 0; run < 2 * RUNS; run++) {
    const dir = `st${run}`;
    const written = burstInChild(join(src, dir), BURST);
    let done = false;
    void written.then(() => landed(join(dst, dir), BURST)).finally(() => (done = true));
    for (let turn = run; !done; turn++) {
      if (run % 2 === 0) {
        // one of each per turn, the order rotated, so none always runs at the same point of the burst
        for (let i = 0; i < processes.length; i++) {
          const [key, measure] = processes[(turn + i) % processes.length]!;
          samples[key].push(await measure());
        }
      } else {
        const one = await socketStatusMs(state);
        socket.push(one.ms);
        if (one.lagMs > 0) socketWithLag += 1;
        await sleep(5);
      }
    }
    await written;
  }
  return {
    cli: latencyStats(samples.cli),
    cliCommander: latencyStats(samples.cliCommander),
    node0: latencyStats(samples.node0),
    node0Flag: latencyStats(samples.node0Flag),
    socket: latencyStats(socket),
    socketWithLag,
  };
}

interface FlushRun {
  afterWriteMs: number;
  batchMs: number;
  /** flush returned this long after the carrying batch landed */
  overheadMs: number;
}

/** Batches the daemon logged: landing time and duration. */
function batchesFrom(log: string[]): Array<{ at: number; durationMs: number }> {
  return log.filter((l) => l.includes('"event":"batch-done"')).map((l) => JSON.parse(l) as { time: number; durationMs: number }).map((b) => ({ at: b.time, durationMs: b.durationMs }));
}

/** Flush right after the last write; the carrying batch is the first one that started after that write. */
async function flushAfter(write: () => Promise<number> | number, state: string, log: string[]): Promise<FlushRun> {
  await using client = await ControlClient.connect(jobPaths(state, NAME));
  const lastWrite = await write();
  const result = await client.request('flush', { timeoutMs: 60_000 });
  const returned = Date.now();
  if (!result.ok) throw new Error(`flush failed: ${result.message}`);
  await sleep(20); // let the last log lines arrive
  const carrying = batchesFrom(log).find((b) => b.at - b.durationMs >= lastWrite && b.at <= returned + 5);
  return { afterWriteMs: returned - lastWrite, batchMs: carrying?.durationMs ?? Number.NaN, overheadMs: carrying ? returned - carrying.at : Number.NaN };
}

function flushRow(label: string, runs: FlushRun[]): string {
  const after = median(runs.map((r) => r.afterWriteMs));
  const batch = median(runs.map((r) => r.batchMs));
  const overhead = median(runs.map((r) => r.overheadMs));
  const within = runs.every((r) => r.overheadMs <= 10);
  return `| ${label} | ${runs.length} | ${fmt(after, 0)} | ${fmt(batch, 0)} | ${fmt(overhead, 0)} | ${within ? 'met' : '**not met**'} (max overhead ${fmt(Math.max(...runs.map((r) => r.overheadMs)), 0)} ms) |`;
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
    const goal = c === OVERHEAD_CONFIGS.length - 1 ? ` — goal ≤ +${OVERHEAD_TARGET * 100} %: ${wallRatio <= 1 + OVERHEAD_TARGET ? 'met' : '**not met**'}` : '';
    const vs = c === 0 ? '1.00' : `${fmt(wallRatio, 3)} (${pct(wallRatio)})${goal}`;
    const beats = rs.filter((r) => r.beatInside).length;
    return `| ${label} | ${rs.length} | ${fmt(median(wall), 0)} | ${fmt(Math.min(...wall), 0)}–${fmt(Math.max(...wall), 0)} | ${vs} | ${fmt(median(rs.map((r) => r.daemonCpuMs)), 0)} | ${fmt(median(rs.map((r) => r.rsyncCpuMs)), 0)} | ${c === 0 ? '1.00' : `${fmt(cpuRatio, 3)} (${pct(cpuRatio)})`} | ${fmt(median(rs.map((r) => r.batches)), 0)} | ${beats > 0 ? `${beats} of ${rs.length}` : ''} |`;
  });
  return [
    `| ${BURST.toLocaleString('en-US')}-file burst, first write → all on target, fresh job per run | runs | median ms | range ms | wall vs the anchor of the same round (median of ratios) | daemon CPU ms (all threads), median | rsync CPU ms, median | daemon + rsync CPU vs the anchor of the same round | batches (median) | heartbeat written during the burst |`,
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ];
}

export async function benchStatusE2E(): Promise<string> {
  const src = scratch('st-src');
  const dst = scratch('st-dst');
  const state = scratch('st-state', '16m');
  let during: StatusDuringBurst;
  const single: FlushRun[] = [];
  const bursts: FlushRun[] = [];
  try {
    const job = await startLivesync(src.path, dst.path, state.path);
    try {
      during = await statusDuringBursts(src.path, dst.path, state.path);
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
  const statusRow = (label: string, s: LatencyStats, goal: boolean): string =>
    `| ${label} | ${s.n} | ${fmt(s.medianMs)} | ${fmt(s.p99Ms)} | ${goal ? `≤ ${STATUS_TARGET_MS}: ${s.p99Ms <= STATUS_TARGET_MS ? 'met' : s.medianMs <= STATUS_TARGET_MS ? 'median met, p99 not' : '**not met**'}` : ''} | ${fmt(s.medianMs / d.node0Flag.medianMs, 2)} |`;
  return [
    `Real daemon, tmpfs source and target, ${BURST.toLocaleString('en-US')}-file bursts written by a child process while status is sampled (${2 * RUNS} bursts).`,
    '',
    '| `status --json` during a burst | n | median ms | p99 ms | goal | median vs `node --disable-warning=… -e 0` |',
    '|---|---|---|---|---|---|',
    statusRow('anchor: `node -e 0` (same bursts)', d.node0, false),
    statusRow('anchor: `node --disable-warning=ExperimentalWarning -e 0` (bin/livesync\'s flags)', d.node0Flag, false),
    statusRow('real CLI (bin/livesync: start-up fast path, compile cache)', d.cli, true),
    statusRow('real CLI, commander path (LIVESYNC_NO_FAST_PATH=1)', d.cliCommander, true),
    statusRow(`socket round trip (connect, status, close; ${d.socketWithLag} of ${d.socket.n} saw lag > 0)`, d.socket, true),
    '',
    ...overheadTable(overhead),
    '',
    ...idle,
    '',
    '| `flush` right after the last write (socket) | n | last write → flush returns, median ms | batch carrying the write, median ms | flush return − that batch landed, median ms | returns as that batch lands (≤ 10 ms): within one batch time |',
    '|---|---|---|---|---|---|',
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
