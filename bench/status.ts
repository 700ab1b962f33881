/**
 * Status latency: how fast a running job answers `status` (goal: <= 50 ms while a 10k-file burst is being
 * mirrored), and what the status/metrics subscribers cost per event. `npm run bench status` runs both parts:
 *   benchStatusStub()   a stub job on this process's loop: socket round trips idle and under a synthetic event
 *                       storm, the CLI as a whole process, the subscribers' cost per event
 *   benchStatusE2E()    (bench/status-e2e.ts) the real daemon: status during real 10k-file bursts (CLI and
 *                       socket), heartbeat + metrics overhead on the burst, flush return after the last write
 * Helpers shared with the e2e part:
 *   const one = await statusRoundTrip(socketPath);                       // connect + status + close, ms
 *   const cli = await cliStatusWallTime(stateDir, name);                 // `livesync status --json`, whole process
 *   const node = await cliStatusWallTime(stateDir, name, NODE_PATHS.nodeFast);  // the same through Node
 * `livesync status --json` is answered by bin/livesync's C client (native/status-client.c); the Node paths it
 * replaced are measured in the same rounds. Anchors measured in the same run: a bare unix-socket ping-pong (the
 * floor of any answer), `/bin/true` (the floor of any process) and `node -e 0` (the floor of a Node CLI). `node bench/status.ts` alone runs the stub part (the e2e part needs root and
 * the private mount namespace bench/run.ts sets up).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ControlClient } from '../src/control/client.ts';
import { serveControl } from '../src/control/server.ts';
import { acquireJobLock } from '../src/daemon/lock.ts';
import { jobPaths, type JobPaths } from '../src/daemon/paths.ts';
import { EventBus } from '../src/events/event.ts';
import { startMetricsServer } from '../src/metrics/server.ts';
import { StatusTracker } from '../src/status/tracker.ts';
import { inPrivateMountNs } from '../src/sys/mount-ns.ts';
import { CLI, StubJob } from '../test/status/stub-job.ts';

export const STATUS_TARGET_MS = 50;
/** rounds of the whole-process comparison (one run of each variant per round) */
const CLI_ROUNDS = 30;

export interface LatencyStats {
  n: number;
  medianMs: number;
  p99Ms: number;
  maxMs: number;
}

export function latencyStats(samples: number[]): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { n: sorted.length, medianMs: at(0.5), p99Ms: at(0.99), maxMs: sorted.at(-1) ?? Number.NaN };
}

function pathsOf(socketPath: string): JobPaths {
  return jobPaths(dirname(socketPath), basename(socketPath, '.sock'));
}

/** One `status` as the CLI does it: connect, ask, close. Milliseconds. */
export async function statusRoundTrip(socketPath: string): Promise<number> {
  const t0 = performance.now();
  const client = await ControlClient.connect(pathsOf(socketPath));
  await client.request('status', {});
  const ms = performance.now() - t0;
  await client[Symbol.asyncDispose]();
  return ms;
}

export async function sampleStatus(socketPath: string, rounds: number): Promise<LatencyStats> {
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) samples.push(await statusRoundTrip(socketPath));
  return latencyStats(samples);
}

function wallTime(file: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) =>
    execFile(file, args, { env: { ...process.env, ...env } }, (err) => (err ? reject(err) : resolve(performance.now() - t0))),
  );
}

/** CPU time (user + system) of this process's reaped children so far, ms (/proc/self/stat, 10 ms ticks). */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) * 10;
}

export interface ProcessStats extends LatencyStats {
  /** mean CPU time per run (user + system), ms: summed over the runs, so the 10 ms tick averages out */
  cpuMs: number;
}

/**
 * Whole-process variants measured in turn (one run of each per round, the order rotated), so a machine
 * whose load drifts slows them all alike: wall time per run and mean CPU time per run.
 */
export async function interleavedProcesses<K extends string>(variants: Record<K, () => Promise<number>>, rounds: number): Promise<Record<K, ProcessStats>> {
  const keys = Object.keys(variants) as K[];
  const walls = new Map<K, number[]>(keys.map((k) => [k, []]));
  const cpu = new Map<K, number>(keys.map((k) => [k, 0]));
  for (const k of keys) await variants[k](); // warm-up: compile cache, page cache
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < keys.length; i++) {
      const k = keys[(round + i) % keys.length]!;
      const before = childrenCpuMs();
      walls.get(k)!.push(await variants[k]());
      cpu.set(k, cpu.get(k)! + childrenCpuMs() - before);
    }
  }
  return Object.fromEntries(keys.map((k) => [k, { ...latencyStats(walls.get(k)!), cpuMs: cpu.get(k)! / rounds }])) as Record<K, ProcessStats>;
}

/**
 * `livesync status --json` as a whole process through bin/livesync. Milliseconds. By default bin/livesync
 * answers it with its C client (native/status-client.c); `env` picks the other paths: NODE_PATHS below.
 */
export function cliStatusWallTime(stateDir: string, name: string, env: Record<string, string> = {}): Promise<number> {
  return wallTime(CLI, ['status', name, '--json', '--state-dir', stateDir], env);
}

/** The Node paths of `livesync status --json`, for the same-run comparison with the C client. */
export const NODE_PATHS = {
  /** the Node CLI's start-up fast path (src/status/cli-flags.ts), with Node's compile cache */
  nodeFast: { LIVESYNC_NO_NATIVE_STATUS: '1' },
  /** the commander path (every fast path off) */
  commander: { LIVESYNC_NO_FAST_PATH: '1' },
  /** the Node fast path without the compile cache */
  uncached: { LIVESYNC_NO_NATIVE_STATUS: '1', NODE_DISABLE_COMPILE_CACHE: '1' },
} as const;

export const STATUS_CLIENT = join(dirname(CLI), '..', 'native', 'build', 'status-client');

/** The C client alone (no shim): connect, `status-text`, print. Milliseconds, output discarded. */
export function clientWallTime(socketPath: string): Promise<number> {
  return wallTime(STATUS_CLIENT, [socketPath, '2000']);
}

/** Anchor: connect + one line each way + close on a bare unix socket, same process and loop. */
async function pingPong(socketPath: string): Promise<number> {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const socket = createConnection({ path: socketPath }, () => socket.write('ping\n'));
    socket.once('data', () => socket.end());
    socket.once('close', () => resolve());
    socket.once('error', reject);
  });
  return performance.now() - t0;
}

/** Emits engine-like event traffic on every loop turn until stopped: what a 10k-file burst looks like to the bus. */
function eventStorm(bus: EventBus): { stop: () => void; events: () => number } {
  let running = true;
  let count = 0;
  let pending = 0;
  const oldest = Date.now();
  const tick = (): void => {
    if (!running) return;
    for (let i = 0; i < 50; i++) {
      pending += 20;
      bus.emit({ type: 'changes', count: 20 });
      bus.emit({ type: 'queue', pendingPaths: pending, inFlightPaths: 500, oldestChangeAt: oldest });
      count += 2;
    }
    if (pending > 10_000) {
      bus.emit({ type: 'batch-done', id: count, paths: pending, files: pending, bytes: pending * 400, durationMs: 80, lagMs: 120 });
      pending = 0;
      count += 1;
    }
    setImmediate(tick);
  };
  setImmediate(tick);
  return { stop: () => (running = false), events: () => count };
}

/** Cost per event of the subscribers (tracker + metrics matchers) against a bus with no subscriber. */
async function perEventCostUs(withSubscribers: boolean): Promise<number> {
  const bus = new EventBus();
  const tracker = withSubscribers ? new StatusTracker(bus) : null;
  const metrics = tracker ? await startMetricsServer(bus, tracker, { host: '127.0.0.1', port: 0 }) : null;
  const n = 200_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if (i % 3 === 0) bus.emit({ type: 'batch-done', id: i, paths: 1, files: 1, bytes: 100, durationMs: 5, lagMs: 10 });
    else bus.emit({ type: 'queue', pendingPaths: i, inFlightPaths: 1, oldestChangeAt: i });
  }
  const us = ((performance.now() - t0) * 1000) / n;
  await metrics?.close();
  tracker?.[Symbol.dispose]();
  return us;
}

const fmt = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');

/** ≤ target by p99 (met), by the median only, or not at all */
export function verdict(s: LatencyStats): string {
  return s.p99Ms <= STATUS_TARGET_MS ? 'met' : s.medianMs <= STATUS_TARGET_MS ? 'median met, p99 not' : '**not met**';
}

export async function benchStatusStub(rounds = 300): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'lsbench-status-'));
  const paths = jobPaths(dir, 'bench');
  const job = new StubJob('bench', dir);
  const tracker = new StatusTracker(job.bus);
  const lock = await acquireJobLock(paths);
  const server = await serveControl(job, tracker, lock);
  const metrics = await startMetricsServer(job.bus, tracker, { host: '127.0.0.1', port: 0 });
  const echoPath = join(dir, 'echo.sock');
  const echo = createServer((s) => s.on('data', () => s.write('pong\n')));
  await new Promise<void>((resolve) => echo.listen(echoPath, resolve));
  try {
    const pings: number[] = [];
    for (let i = 0; i < rounds; i++) pings.push(await pingPong(echoPath));
    const floor = latencyStats(pings);
    const idle = await sampleStatus(paths.socket, rounds);
    const storm = eventStorm(job.bus);
    const t0 = performance.now();
    const busy = await sampleStatus(paths.socket, rounds);
    storm.stop();
    const eventsPerS = storm.events() / ((performance.now() - t0) / 1000);
    const { spawnFloor, node0, node0Flag, client, cli, nodeFast, commander, uncached } = await interleavedProcesses(
      {
        spawnFloor: () => wallTime('/bin/true', []),
        node0: () => wallTime(process.execPath, ['-e', '0']),
        node0Flag: () => wallTime(process.execPath, ['--disable-warning=ExperimentalWarning', '-e', '0']),
        client: () => clientWallTime(paths.socket),
        cli: () => cliStatusWallTime(dir, 'bench'),
        nodeFast: () => cliStatusWallTime(dir, 'bench', NODE_PATHS.nodeFast),
        commander: () => cliStatusWallTime(dir, 'bench', NODE_PATHS.commander),
        uncached: () => cliStatusWallTime(dir, 'bench', NODE_PATHS.uncached),
      },
      CLI_ROUNDS,
    );
    const bare = await perEventCostUs(false);
    const subscribed = await perEventCostUs(true);
    const scrape: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await metrics.metrics.registry.metrics();
      scrape.push((performance.now() - t) * 1000);
    }
    const proc = (label: string, p: ProcessStats, goal: boolean): string =>
      `| ${label} | ${p.n} | ${fmt(p.medianMs)} | ${fmt(p.p99Ms)} | ${fmt(p.cpuMs)} | ${goal ? `≤ ${STATUS_TARGET_MS}: ${verdict(p)}` : ''} | ${fmt(p.medianMs / node0Flag.medianMs)} | ${fmt(p.medianMs / nodeFast.medianMs)} |`;
    const rows = [
      '| measurement | n | median ms | p99 ms | target | median vs anchor |',
      '|---|---|---|---|---|---|',
      `| anchor: bare unix socket ping-pong | ${floor.n} | ${fmt(floor.medianMs)} | ${fmt(floor.p99Ms)} | | 1.00 |`,
      `| status round trip, idle job | ${idle.n} | ${fmt(idle.medianMs)} | ${fmt(idle.p99Ms)} | ≤ ${STATUS_TARGET_MS} | ${fmt(idle.medianMs / floor.medianMs)} |`,
      `| status round trip, event storm (${Math.round(eventsPerS).toLocaleString('en-US')} events/s on the same loop) | ${busy.n} | ${fmt(busy.medianMs)} | ${fmt(busy.p99Ms)} | ≤ ${STATUS_TARGET_MS} | ${fmt(busy.medianMs / floor.medianMs)} |`,
      '',
      '| whole process, idle job, run in turn | n | median ms | p99 ms | CPU ms per run (mean) | target | median vs `node --disable-warning=… -e 0` | median vs the Node fast path |',
      '|---|---|---|---|---|---|---|---|',
      proc('anchor: `/bin/true` (spawning any process from here)', spawnFloor, false),
      proc('anchor: `node -e 0`', node0, false),
      proc("anchor: `node --disable-warning=ExperimentalWarning -e 0` (bin/livesync's flags)", node0Flag, false),
      proc('`livesync status --json` (bin/livesync → its C client, native/status-client.c)', cli, true),
      proc('the C client alone (no shim)', client, false),
      proc('Node path: start-up fast path, compile cache (LIVESYNC_NO_NATIVE_STATUS=1)', nodeFast, true),
      proc('Node path: commander (LIVESYNC_NO_FAST_PATH=1)', commander, true),
      proc('Node path: start-up fast path, NODE_DISABLE_COMPILE_CACHE=1', uncached, true),
      '',
      '| event cost | µs per event |',
      '|---|---|',
      `| bus, no subscriber | ${fmt(bare)} |`,
      `| bus + status tracker + metrics matchers | ${fmt(subscribed)} |`,
      `| one metrics scrape: prom-client text of the whole registry (median of ${scrape.length}) | ${fmt(latencyStats(scrape).medianMs)} |`,
    ];
    return rows.join('\n');
  } finally {
    echo.close();
    await metrics.close();
    await server.close();
    tracker[Symbol.dispose]();
    await lock.release();
    await job[Symbol.asyncDispose]();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The whole section: the stub-job table, then the real-daemon tables (as root in a private mount namespace). */
export async function benchStatus(rounds = 300): Promise<string> {
  const stub = await benchStatusStub(rounds);
  if (process.getuid?.() !== 0 || !inPrivateMountNs()) return `${stub}\n\n(real-daemon tables skipped: they need root, through \`npm run bench status\`)`;
  const { benchStatusE2E } = await import('./status-e2e.ts');
  return `${stub}\n\n${await benchStatusE2E()}`;
}

// no top-level await: status-e2e.ts imports this module, and a cycle through a pending top-level await deadlocks
if (import.meta.main) void benchStatus().then((table) => process.stdout.write(`${table}\n`));
