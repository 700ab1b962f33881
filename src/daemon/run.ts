/**
 * The daemon lifecycle of `livesync start`, in a fixed order (mutagen's runMain):
 *   lock → signal handlers → logger → (mount) → watcher + mirror → control socket (+ metrics) →
 *   await {signal, `livesync stop`, halt} → stop the mirror (in-flight batch finishes, pending persisted) →
 *   dispose in reverse.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventBus } from '../events/event.ts';
import { createLogger, logEvents } from '../log/logger.ts';
import { ToolError } from '../errors/errors.ts';
import { ExitCode } from '../errors/exit-codes.ts';
import { Mirror } from '../engine/mirror.ts';
import { createWatcher } from '../watch/create.ts';
import { compileExcludes } from '../watch/exclude.ts';
import { mount, mountAt } from '../sys/mount.ts';
import { toBytes } from '../util/bpath.ts';
import type { StartOptions } from '../config/start-options.ts';
import { acquireJobLock } from './lock.ts';
import { jobPaths } from './paths.ts';
import { publishJobRecord } from './registry.ts';
import { StatusTracker } from '../status/tracker.ts';
import { serveControl } from '../control/server.ts';
import { startMetricsServer } from '../metrics/server.ts';
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
    const onSignal = (signal: NodeJS.Signals): void => resolve(signal);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    disposers.push(() => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    });
  });
  try {
    if (options.mount) await mountTarget(options);
    const excludes = compileExcludes(options.excludes);
    const watcher = await createWatcher(options.watcher, { root: options.source, isExcluded: excludes.isExcluded, excludesMatchPaths: excludes.matchesPaths });
    const startedAt = Date.now();
    const mirror = new Mirror({
      info: { name: options.name, source: options.source, target: options.target, stateDir: options.stateDir, pid: process.pid, startedAt, watcher: options.watcher },
      bus,
      watcher,
      isExcluded: excludes.isExcluded,
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
    await using metrics = metricsAddress ? await startMetricsServer(bus, tracker, { host: metricsAddress.host, port: metricsAddress.port }) : null;
    if (metricsAddress && !metricsAddress.loopback) bus.emit({ type: 'warning', code: 'W_METRICS_EXPOSED', message: `metrics are served on a non-loopback address (${metrics?.url})` });
    await using _record = await publishJobRecord(lock, { source: options.source, target: options.target, startedAt, version: VERSION, ...(metrics ? { metrics: metrics.url } : {}) });
    const cutover = createCutoverHandler({ mirror, bus, info: mirror.info, mountSpec: options.mount });
    await using control = await serveControl(mirror, tracker, lock, { version: VERSION, cutover });
    void control.stopRequested.then(() => stopRequested?.());
    reportPreviousPending(options, bus);
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

/** What the last run left pending: the seed reconciles it (an rsync pass of the tree); say so and forget it. */
function reportPreviousPending(options: Readonly<StartOptions>, bus: EventBus): void {
  const file = join(options.stateDir, `${options.name}.pending`);
  if (!existsSync(file)) return;
  const count = readFileSync(file).toString('latin1').split('\0').filter((e) => e !== '').length;
  bus.emit({ type: 'info', message: `${count} paths were pending when the job last stopped; the seed reconciles them`, data: { pending: count } });
  rmSync(file, { force: true });
}

/** Pending paths survive a stop: the next start reconciles with a full pass anyway, this is the record. */
function persistPending(options: Readonly<StartOptions>, mirror: Mirror): void {
  const { entries, renames } = mirror.pending();
  const file = join(options.stateDir, `${options.name}.pending`);
  const parts: Buffer[] = [];
  for (const e of entries) parts.push(toBytes(`${e.flags}:${e.path}`), Buffer.from([0]));
  for (const r of renames) parts.push(toBytes(`R:${r.from}`), Buffer.from([0]), toBytes(r.to), Buffer.from([0]));
  writeFileSync(file, Buffer.concat(parts), { mode: 0o600 });
}
