/**
 * The daemon lifecycle of `livesync start`, in a fixed order (mutagen's runMain):
 *   lock → signal handlers → logger → (mount) → watch-limit preflight → watcher + mirror → control socket
 *   (+ metrics, + pending record rewritten every 5 s) →
 *   await {signal, `livesync stop`, halt} → stop the mirror (in-flight batch finishes, pending persisted) →
 *   dispose in reverse.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EventBus } from '../events/event.ts';
import { createLogger, logEvents } from '../log/logger.ts';
import { ToolError, errorText } from '../errors/errors.ts';
import { ExitCode } from '../errors/exit-codes.ts';
import { Mirror } from '../engine/mirror.ts';
import { prepareReconcile } from '../engine/reconcile.ts';
import { lastGoodFile, recordLastGood } from '../engine/last-good.ts';
import { DATA, DEEP, GONE } from '../engine/dirty-set.ts';
import type { WatchChange } from '../watch/types.ts';
import { createWatcher } from '../watch/create.ts';
import { compileExcludes } from '../watch/exclude.ts';
import { mount, mountAt } from '../sys/mount.ts';
import { writeFileAtomic } from '../sys/fsops.ts';
import { preflightLimits } from '../watch/limits.ts';
import { toBytes } from '../util/bpath.ts';
import type { StartOptions } from '../config/start-options.ts';
import { acquireJobLock } from './lock.ts';
import { jobPaths } from './paths.ts';
import { publishJobRecord } from './registry.ts';
import { StatusTracker } from '../status/tracker.ts';
import { serveControl } from '../control/server.ts';
import { validateMetricsAddress } from '../metrics/address.ts';
import { createCutoverHandler } from '../cutover/handler.ts';
import { VERSION } from '../version.ts';

export interface RunContext {
  pretty: boolean;
  /** extra event subscribers from the CLI edge (the TTY progress line); returns its unsubscribe */
  onEvents?: (bus: EventBus) => () => void;
}

export async function runDaemon(options: Readonly<StartOptions>, ctx: RunContext): Promise<void> {
  await using lock = await acquireJobLock(jobPaths(options.stateDir, options.name));
  const bus = new EventBus();
  using tracker = new StatusTracker(bus);
  const logger = createLogger({ pretty: ctx.pretty });
  const disposers: Array<() => Promise<void> | void> = [logEvents(bus, logger)];
  if (ctx.onEvents) disposers.push(ctx.onEvents(bus));
  let stopRequested: (() => void) | null = null;
  const stopSignal = new Promise<string>((resolve) => {
    stopRequested = () => resolve('stop');
    // `on`, not `once`, for the whole run: execa's child cleanup (signal-exit) re-raises a signal it believes
    // nobody else handles, so with a one-shot handler a SIGTERM arriving while an rsync ran killed the daemon
    // outright (nothing persisted). A second signal while stopping is only logged; SIGKILL forces.
    let received = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (received) bus.emit({ type: 'warning', code: 'W_STOPPING', message: `received ${signal} again: already stopping after the in-flight batch (SIGKILL forces, and loses nothing the next start does not redo)` });
      received = true;
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    disposers.push(() => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    });
  });
  try {
    if (options.mount) await mountTarget(options);
    // a restart: the comparison's walk workers start, and read the target ahead, while the rest is set up
    prepareReconcile({ source: options.source, target: options.target, excludes: options.excludes, stateDir: options.stateDir, name: options.name });
    const excludes = compileExcludes(options.excludes);
    // watch limits before any watch: raise (root, --raise-limits) or refuse with the sysctl to run
    preflightLimits({ root: options.source, isExcluded: excludes.isExcluded, raise: options.raiseLimits, bus });
    const watcher = await createWatcher(options.watcher, { root: options.source, isExcluded: excludes.isExcluded, excludesMatchPaths: excludes.matchesPaths });
    const startedAt = Date.now();
    const mirror = new Mirror({
      info: { name: options.name, source: options.source, target: options.target, stateDir: options.stateDir, pid: process.pid, startedAt, watcher: options.watcher },
      bus,
      watcher,
      isExcluded: excludes.isExcluded,
      excludes: options.excludes,
      carryOver: previousPending(options, bus),
      source: options.source,
      target: options.target,
      excludeArgs: excludes.rsyncArgs(),
      delayMs: options.delayMs,
      maxWaitMs: options.maxWaitMs,
      seedWorkers: options.seedWorkers,
      heartbeat: options.heartbeat,
      maxDelete: options.maxDelete,
      allowEmptySource: options.allowEmptySource,
    });
    const metricsAddress = options.metrics ? validateMetricsAddress(options.metrics) : null;
    // prom-client costs ~40 ms to import: only a job with --metrics pays it
    await using metrics = metricsAddress ? await (await import('../metrics/server.ts')).startMetricsServer(bus, tracker, { host: metricsAddress.host, port: metricsAddress.port }) : null;
    if (metricsAddress && !metricsAddress.loopback) bus.emit({ type: 'warning', code: 'W_METRICS_EXPOSED', message: `metrics are served on a non-loopback address (${metrics?.url})` });
    await using _record = await publishJobRecord(lock, { source: options.source, target: options.target, startedAt, version: VERSION, ...(metrics ? { metrics: metrics.url } : {}) });
    const cutover = createCutoverHandler({ mirror, bus, info: mirror.info, mountSpec: options.mount });
    await using control = await serveControl(mirror, tracker, lock, { version: VERSION, cutover });
    void control.stopRequested.then(() => stopRequested?.());
    disposers.push(persistPeriodically(options, mirror, bus));
    const job = { source: options.source, target: options.target, excludes: options.excludes };
    disposers.push(recordLastGood({ file: lastGoodFile(options.stateDir, options.name), job, bus, mirror, watcher }));
    const running = mirror.run();
    const why = await Promise.race([stopSignal, running.then(() => 'ended')]);
    if (why !== 'ended') {
      bus.emit({ type: 'info', message: `${why === 'stop' ? 'livesync stop' : `received ${why}`}: stopping after the in-flight batch` });
      await mirror.stop();
    }
    await running;
    persistPending(options, mirror);
  } finally {
    for (const dispose of disposers.reverse()) await dispose();
    logger.flush();
  }
}

async function mountTarget(options: Readonly<StartOptions>): Promise<void> {
  const m = options.mount!;
  const existing = mountAt(options.target);
  if (existing && existing.source === m.spec) return; // already mounted: idempotent
  if (existing) {
    throw new ToolError('E_TARGET_MOUNTED', `${options.target} already has ${existing.source} mounted on it, not ${m.spec}`, {
      hint: `unmount it or drop --mount`,
      exitCode: ExitCode.config,
    });
  }
  const res = await mount(m.spec, options.target, { ...(m.type ? { type: m.type } : {}), ...(m.options ? { options: m.options } : {}) });
  if (res.exitCode !== 0) {
    throw new ToolError('E_MOUNT', `mount of ${m.spec} at ${options.target} failed: ${res.stderr.trim() || res.spawnError || `exit ${res.exitCode}`}`, {
      hint: 'check the share, the type (--type) and options (--options); try the same mount(8) by hand',
      exitCode: ExitCode.config,
    });
  }
}

/**
 * What the last run left pending. The reconcile (or seed) compares the whole tree anyway; these paths are
 * synced on top because a comparison by metadata cannot see a rewrite that kept size and mtime. Renames and
 * deletions are left to the comparison (whether they reached the target is exactly what it finds out).
 */
function previousPending(options: Readonly<StartOptions>, bus: EventBus): WatchChange[] {
  const file = join(options.stateDir, `${options.name}.pending`);
  if (!existsSync(file)) return [];
  // records are `FLAGS:path`, or `R:from` followed by `to` for a rename (one pending change)
  const records = readFileSync(file).toString('latin1').split('\0').filter((e) => e !== '');
  const changes: WatchChange[] = [];
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (r.startsWith('R:')) {
      i++;
      continue;
    }
    const colon = r.indexOf(':');
    const flags = Number(r.slice(0, colon));
    const path = r.slice(colon + 1);
    if (!Number.isInteger(flags) || flags & GONE) continue;
    changes.push(flags & DEEP ? { kind: 'subtree', path, reason: 'rescan' } : { kind: 'change', path, isDir: !(flags & DATA) });
  }
  const count = records.length - records.filter((r) => r.startsWith('R:')).length;
  bus.emit({ type: 'info', message: `${count} paths were pending when the job last stopped; they are synced again after the reconcile`, data: { pending: count } });
  rmSync(file, { force: true });
  return changes;
}

/**
 * Pending paths survive a stop: the next start reconciles with a full pass anyway, this is the record.
 * Written aside and renamed, so a crash mid-write leaves the previous record whole.
 */
function persistPending(options: Readonly<StartOptions>, mirror: Mirror): void {
  const { entries, renames } = mirror.pending();
  const file = join(options.stateDir, `${options.name}.pending`);
  // one string, one Buffer: 100k pending paths are written every few seconds during a storm
  const text = entries.map((e) => `${e.flags}:${e.path}\0`).join('') + renames.map((r) => `R:${r.from}\0${r.to}\0`).join('');
  writeFileAtomic(file, toBytes(text));
}

/** How often the pending/failed record is rewritten while it changes, so a kill -9 leaves a recent one. */
const PERSIST_INTERVAL_MS = 5_000;

/** Rewrites the pending record every PERSIST_INTERVAL_MS when the queue or the failed paths changed. Returns the disposer. */
function persistPeriodically(options: Readonly<StartOptions>, mirror: Mirror, bus: EventBus): () => void {
  let changed = false;
  const unsubscribe = bus.subscribe((e) => {
    if (e.type === 'queue' || e.type === 'path-failed' || e.type === 'path-recovered') changed = true;
  });
  const timer = setInterval(() => {
    if (!changed) return;
    changed = false;
    try {
      persistPending(options, mirror);
    } catch (err) {
      bus.emit({ type: 'warning', code: 'W_PERSIST', message: `cannot write the pending record in ${options.stateDir}: ${errorText(err)}` });
    }
  }, PERSIST_INTERVAL_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    unsubscribe();
  };
}
