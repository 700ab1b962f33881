/**
 * Fault benchmarks (issue 3), side by side with their anchors measured in the same run, medians of RUNS:
 *   overflow recovery on a 100k-file tree    livesync (no restart: rescan + one recursive rsync)
 *                                            vs `rsync -a -n` of the tree (the floor of any full pass)
 *                                            vs lsyncd's start-up on the same tree (its overflow recovery is a restart)
 *   restart-to-in-sync after kill -9, 100k   livesync (reconcile by comparison) vs `rsync -a -n` of the tree,
 *                                            medians of RESTART_RUNS (>= 5) on one tree, with its breakdown, and
 *                                            without a last good point (every xattr compared) for contrast
 *   1M events over 100k paths                the daemon's peak RSS (VmHWM) before/after, vs the stated budget
 * Sysctls changed for a measurement are restored right after the daemon's inotify instance exists.
 * BENCH_FAULT_PARTS=restart (comma-separated: overflow, restart, storm) runs only those parts.
 */
import { existsSync, readdirSync, rmSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon } from '../test/helpers/daemon.ts';
import { flush, overrideSysctl, procKb } from '../test/faults/helpers.ts';
import { makeTree as makeStormTree, storm, STORM_RSS_BUDGET_MB } from '../test/faults/storm.ts';
import { median } from './probe.ts';
import { MIGRATION_FLAGS } from '../src/sync/rsync-args.ts';
import { lastTreeFile, makeTree, scratch, startLsyncd, timeCommand } from './tools.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const RESTART_RUNS = Math.max(5, Number(process.env['BENCH_RESTART_RUNS'] ?? RUNS));
const PARTS = new Set((process.env['BENCH_FAULT_PARTS'] ?? 'overflow,restart,storm').split(','));
const TREE = Number(process.env['BENCH_FAULT_TREE'] ?? 100_000);
const STORM_PATHS = 100_000;
const STORM_ROUNDS = 10;

const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');
const f0 = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : 'n/a');

/** A livesync daemon on src → dst, started with `sysctl` overridden until its watches are ready; resolves at in-sync. */
async function startDaemon(src: string, dst: string, state: string, extra: string[] = [], sysctl?: [string, number]): Promise<Daemon> {
  const low = sysctl ? overrideSysctl(sysctl[0], sysctl[1]) : null;
  let d: Daemon;
  try {
    d = new Daemon([src, dst, '--state-dir', state, '--name', 'fbench', '--no-heartbeat', ...extra]);
    await d.waitFor((r) => r.event === 'watch-ready', 120_000, 'watch-ready');
  } finally {
    low?.restore();
  }
  await d.waitState('in-sync', 300_000);
  return d;
}

/** `rsync -a -n` of the (in-sync) tree: what any full reconciling pass costs at least. */
function dryRun(src: string, dst: string): number {
  return timeCommand('rsync', ['-a', '-n', `${src}/`, `${dst}/`]) / 1000;
}

/** The same dry run with livesync's migration flags (-HAXS: ACLs and xattrs cost a syscall pair per file each side). */
function faithfulDryRun(src: string, dst: string): number {
  return timeCommand('rsync', [...MIGRATION_FLAGS, '--delete', '-n', `${src}/`, `${dst}/`]) / 1000;
}

/** Overflow with max_queued_events=256, then seconds from the end of the burst to a passed flush. */
async function overflowRun(): Promise<{ recoverS: number; overflows: number; dryS: number; faithfulS: number; lsyncdS: number }> {
  const src = scratch('fo-src');
  const dst = scratch('fo-dst');
  const state = scratch('fo-state', '64m');
  try {
    makeTree(src.path, TREE);
    const d = await startDaemon(src.path, dst.path, state.path, [], ['fs.inotify.max_queued_events', 256]);
    try {
      mkdirSync(join(src.path, 'burst'));
      for (let i = 0; i < 5_000; i++) writeFileSync(join(src.path, 'burst', `b${i}`), `${i}`);
      const t0 = performance.now();
      const f = await flush(state.path, 'fbench', 300_000);
      const recoverS = (performance.now() - t0) / 1000;
      if (f.code !== 0) throw new Error(`flush after the overflow failed: ${f.stderr}`);
      const overflows = d.records.filter((r) => r.event === 'overflow').length;
      const dryS = dryRun(src.path, dst.path);
      const faithfulS = faithfulDryRun(src.path, dst.path);
      await d.stop();
      const lsyncdDst = scratch('fo-lsyncd', '4g');
      try {
        const l = await startLsyncd(src.path, lsyncdDst.path, state.path, lastTreeFile(lsyncdDst.path, TREE));
        await l.stop();
        return { recoverS, overflows, dryS, faithfulS, lsyncdS: l.readyMs / 1000 };
      } finally {
        lsyncdDst.dispose();
      }
    } finally {
      await d[Symbol.asyncDispose]();
    }
  } finally {
    src.dispose();
    dst.dispose();
    state.dispose();
  }
}

interface RestartRun {
  restartS: number;
  /** spawn → watches ready, the comparison, its end → catching-up (hard-link index), → in-sync (the batch) */
  upS: number;
  compareS: number;
  linksS: number;
  syncS: number;
  dryS: number;
  faithfulS: number;
}

/** Seconds between two log records of a daemon (pino `time`, ms), or from `t0` (ms since the epoch). */
function at(d: Daemon, match: (r: Record<string, unknown>) => boolean): number {
  const r = d.records.find(match);
  return typeof r?.['time'] === 'number' ? r['time'] : Number.NaN;
}

/**
 * One restart on the tree (already mirrored once): a daemon reaches in-sync and records its last good point
 * (unless `lastGood` is false: the record is removed, every xattr is compared), kill -9, 1,000 changes while it
 * is down, restart: spawn → in-sync in seconds with its breakdown from the log. The dry runs are taken while
 * the trees still differ, as a real reconciling pass would meet them.
 */
async function restartRun(src: string, dst: string, state: string, n: number, lastGood: boolean): Promise<RestartRun> {
  const record = `${state}/fbench.lastgood`;
  for (const dir of readdirSync(join(src, 'tree'))) {
    for (const name of readdirSync(join(src, 'tree', dir))) if (name.startsWith('down')) rmSync(join(src, 'tree', dir, name));
  }
  rmSync(record, { force: true });
  const first = await startDaemon(src, dst, state);
  for (let i = 0; i < 500 && !existsSync(record); i++) await new Promise((r) => setTimeout(r, 10));
  if (!existsSync(record)) throw new Error('the daemon recorded no last good point within 5 s of in-sync');
  await first.stop('SIGKILL');
  if (!lastGood) rmSync(record);
  for (let i = 0; i < 1_000; i++) writeFileSync(join(src, 'tree', `d${String(i % 100).padStart(5, '0')}`, `down${n}-${i}`), `${i}`);
  const dryS = dryRun(src, dst);
  const faithfulS = faithfulDryRun(src, dst);
  const t0 = Date.now();
  const second = await startDaemon(src, dst, state);
  const restartS = (Date.now() - t0) / 1000;
  const ready = at(second, (r) => r['event'] === 'watch-ready');
  const compared = at(second, (r) => typeof r['msg'] === 'string' && r['msg'].startsWith('reconcile: compared '));
  const catching = at(second, (r) => r['event'] === 'state' && r['state'] === 'catching-up');
  const inSync = at(second, (r) => r['event'] === 'state' && r['state'] === 'in-sync');
  await second.stop();
  return { restartS, upS: (ready - t0) / 1000, compareS: (compared - ready) / 1000, linksS: (catching - compared) / 1000, syncS: (inSync - catching) / 1000, dryS, faithfulS };
}

/** RESTART_RUNS restarts with a last good point and as many without, interleaved, on one 100k tree. */
async function restartRuns(): Promise<{ withRecord: RestartRun[]; without: RestartRun[] }> {
  const src = scratch('fr-src');
  const dst = scratch('fr-dst');
  const state = scratch('fr-state', '64m');
  try {
    makeTree(src.path, TREE);
    const seeded = await startDaemon(src.path, dst.path, state.path);
    await seeded.stop();
    const withRecord: RestartRun[] = [];
    const without: RestartRun[] = [];
    for (let i = 0; i < RESTART_RUNS; i++) {
      withRecord.push(await restartRun(src.path, dst.path, state.path, 2 * i, true));
      without.push(await restartRun(src.path, dst.path, state.path, 2 * i + 1, false));
    }
    return { withRecord, without };
  } finally {
    src.dispose();
    dst.dispose();
    state.dispose();
  }
}

/** 1M utimes over 100k paths while mirroring (queue raised so they are delivered): VmHWM before/after. */
async function stormRun(): Promise<{ beforeMb: number; afterMb: number; writeS: number; drainS: number; overflows: number }> {
  const src = scratch('fs-src');
  const dst = scratch('fs-dst');
  const state = scratch('fs-state', '64m');
  try {
    const paths = makeStormTree(src.path, STORM_PATHS);
    const d = await startDaemon(src.path, dst.path, state.path, [], ['fs.inotify.max_queued_events', 2_000_000]);
    try {
      const pid = d.child.pid!;
      const beforeMb = procKb(pid, 'VmHWM') / 1024;
      const t0 = performance.now();
      storm(paths, STORM_ROUNDS, utimesSync);
      const t1 = performance.now();
      const f = await flush(state.path, 'fbench', 300_000);
      if (f.code !== 0) throw new Error(`flush after the storm failed: ${f.stderr}`);
      const t2 = performance.now();
      const afterMb = procKb(pid, 'VmHWM') / 1024;
      await d.stop();
      return { beforeMb, afterMb, writeS: (t1 - t0) / 1000, drainS: (t2 - t1) / 1000, overflows: d.records.filter((r) => r.event === 'overflow').length };
    } finally {
      await d[Symbol.asyncDispose]();
    }
  } finally {
    src.dispose();
    dst.dispose();
    state.dispose();
  }
}

const m = <T>(rows: T[], key: keyof T): number => median(rows.map((r) => r[key] as number));

function restartRows(r: { withRecord: RestartRun[]; without: RestartRun[] }): string[] {
  const w = r.withRecord;
  const dry = median([...w, ...r.without].map((x) => x.dryS));
  const faithful = median([...w, ...r.without].map((x) => x.faithfulS));
  const n = `${w.length}+${r.without.length}`;
  return [
    `| restart after kill -9 (+1,000 changes while down) → in-sync (s), whole process from spawn; medians of ${n} | ${f2(m(w, 'restartS'))} | ${f2(dry)} (\`rsync -a -n\`) | ${f2(m(w, 'restartS') / dry)} × dry run |`,
    `| restart: spawn → watches ready / comparison / comparison → catching-up (hard-link index) / → in-sync (the batch) (s) | ${f2(m(w, 'upS'))} / ${f2(m(w, 'compareS'))} / ${f2(m(w, 'linksS'))} / ${f2(m(w, 'syncS'))} | | |`,
    `| restart: the comparison alone (both trees; xattrs and ACLs where changed since the last good point) (s) | ${f2(m(w, 'compareS'))} | ${f2(dry)} (\`rsync -a -n\`) | ${f2(m(w, 'compareS') / dry)} × dry run |`,
    `| restart without a last good point (every xattr and ACL compared) → in-sync / its comparison (s) | ${f2(m(r.without, 'restartS'))} / ${f2(m(r.without, 'compareS'))} | ${f2(dry)} (\`rsync -a -n\`) | ${f2(m(r.without, 'restartS') / dry)} / ${f2(m(r.without, 'compareS') / dry)} × dry run |`,
    `| restart → in-sync, vs the dry run with livesync's flags (-HAXS --delete: what a full reconciling rsync pass compares) | ${f2(m(w, 'restartS'))} | ${f2(faithful)} (\`rsync -aHAXS --delete -n\`) | ${f2(m(w, 'restartS') / faithful)} × faithful dry run |`,
  ];
}

export async function benchFaults(): Promise<string> {
  const ovf = [];
  for (let i = 0; PARTS.has('overflow') && i < RUNS; i++) ovf.push(await overflowRun());
  const restarts = PARTS.has('restart') ? await restartRuns() : null;
  const st = PARTS.has('storm') ? await stormRun() : null;
  const rows = [`| metric (tree ${TREE} files in ${TREE / 100} dirs, tmpfs → tmpfs, medians of ${RUNS} unless said) | livesync | anchor | livesync / anchor |`, '|---|---|---|---|'];
  if (ovf.length > 0) {
    const dry = m(ovf, 'dryS');
    const faithful = m(ovf, 'faithfulS');
    rows.push(
      `| overflow recovery: 5,000 new files with max_queued_events=256 → flush passes (s); ${f0(m(ovf, 'overflows'))} overflow(s), same pid | ${f2(m(ovf, 'recoverS'))} | ${f2(dry)} (\`rsync -a -n\` of the tree) | ${f2(m(ovf, 'recoverS') / dry)} × dry run |`,
      `| overflow recovery, vs the dry run with livesync's flags (-HAXS --delete) | ${f2(m(ovf, 'recoverS'))} | ${f2(faithful)} (\`rsync -aHAXS --delete -n\`) | ${f2(m(ovf, 'recoverS') / faithful)} × faithful dry run |`,
      `| overflow recovery vs lsyncd 2.2.3 (its recovery is a restart: start-up on the same tree, s) | ${f2(m(ovf, 'recoverS'))} | ${f2(m(ovf, 'lsyncdS'))} (lsyncd start-up) | ${f2(m(ovf, 'recoverS') / m(ovf, 'lsyncdS'))} × lsyncd |`,
    );
  }
  if (restarts) rows.push(...restartRows(restarts));
  if (st) {
    rows.push(
      `| peak RSS (VmHWM) before → after ${(STORM_PATHS * STORM_ROUNDS).toLocaleString('en')} events over ${STORM_PATHS.toLocaleString('en')} paths (MiB); queue raised to 2M events, ${st.overflows} overflow(s) | ${f0(st.beforeMb)} → ${f0(st.afterMb)} | ${STORM_RSS_BUDGET_MB} (budget) | ${f2(st.afterMb / STORM_RSS_BUDGET_MB)} × budget |`,
      `| storm: writing the events (s) / then draining to a passed flush (s), one run | ${f2(st.writeS)} / ${f2(st.drainS)} | | |`,
    );
  }
  return rows.join('\n');
}
