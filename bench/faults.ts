/**
 * Fault benchmarks (issue 3), side by side with their anchors measured in the same run, medians of RUNS:
 *   overflow recovery on a 100k-file tree    livesync (no restart: rescan + one recursive rsync)
 *                                            vs `rsync -a -n` of the tree (the floor of any full pass)
 *                                            vs lsyncd's start-up on the same tree (its overflow recovery is a restart)
 *   restart-to-in-sync after kill -9, 100k   livesync (reconcile by comparison) vs `rsync -a -n` of the tree
 *   1M events over 100k paths                the daemon's peak RSS (VmHWM) before/after, vs the stated budget
 * Sysctls changed for a measurement are restored right after the daemon's inotify instance exists.
 */
import { utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon } from '../test/helpers/daemon.ts';
import { flush, overrideSysctl, procKb } from '../test/faults/helpers.ts';
import { makeTree as makeStormTree, storm, STORM_RSS_BUDGET_MB } from '../test/faults/storm.ts';
import { median } from './probe.ts';
import { MIGRATION_FLAGS } from '../src/sync/rsync-args.ts';
import { lastTreeFile, makeTree, scratch, startLsyncd, timeCommand } from './tools.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
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

/**
 * kill -9 of an in-sync daemon, 1,000 changes while it is down, restart: spawn → in-sync, in seconds, and the
 * comparison's own time (the `reconcile:` log line). The dry runs are taken while the trees still differ, as a
 * real reconciling pass would meet them.
 */
async function restartRun(): Promise<{ restartS: number; compareS: number; dryS: number; faithfulS: number }> {
  const src = scratch('fr-src');
  const dst = scratch('fr-dst');
  const state = scratch('fr-state', '64m');
  try {
    makeTree(src.path, TREE);
    const first = await startDaemon(src.path, dst.path, state.path);
    await first.stop('SIGKILL');
    for (let i = 0; i < 1_000; i++) writeFileSync(join(src.path, 'tree', `d${String(i % 100).padStart(5, '0')}`, `down${i}`), `${i}`);
    const dryS = dryRun(src.path, dst.path);
    const faithfulS = faithfulDryRun(src.path, dst.path);
    const t0 = performance.now();
    const second = await startDaemon(src.path, dst.path, state.path);
    const restartS = (performance.now() - t0) / 1000;
    const line = second.records.find((r) => typeof r.msg === 'string' && r.msg.startsWith('reconcile: compared '));
    const compareS = Number((line?.['data'] as { durationMs?: number } | undefined)?.durationMs ?? Number.NaN) / 1000;
    await second.stop();
    return { restartS, compareS, dryS, faithfulS };
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

export async function benchFaults(): Promise<string> {
  const ovf = [];
  const r1 = [];
  for (let i = 0; i < RUNS; i++) {
    ovf.push(await overflowRun());
    r1.push(await restartRun());
  }
  const st = await stormRun();
  const m = <T>(rows: T[], key: keyof T): number => median(rows.map((r) => r[key] as number));
  const dry = median([...ovf.map((o) => o.dryS), ...r1.map((r) => r.dryS)]);
  const faithful = median([...ovf.map((o) => o.faithfulS), ...r1.map((r) => r.faithfulS)]);
  const rows = [
    `| metric (tree ${TREE} files in ${TREE / 100} dirs, tmpfs → tmpfs, medians of ${RUNS}) | livesync | anchor | livesync / anchor |`,
    '|---|---|---|---|',
    `| overflow recovery: 5,000 new files with max_queued_events=256 → flush passes (s); ${f0(m(ovf, 'overflows'))} overflow(s), same pid | ${f2(m(ovf, 'recoverS'))} | ${f2(dry)} (\`rsync -a -n\` of the tree) | ${f2(m(ovf, 'recoverS') / dry)} × dry run |`,
    `| overflow recovery, vs the dry run with livesync's flags (-HAXS --delete) | ${f2(m(ovf, 'recoverS'))} | ${f2(faithful)} (\`rsync -aHAXS --delete -n\`) | ${f2(m(ovf, 'recoverS') / faithful)} × faithful dry run |`,
    `| overflow recovery vs lsyncd 2.2.3 (its recovery is a restart: start-up on the same tree, s) | ${f2(m(ovf, 'recoverS'))} | ${f2(m(ovf, 'lsyncdS'))} (lsyncd start-up) | ${f2(m(ovf, 'recoverS') / m(ovf, 'lsyncdS'))} × lsyncd |`,
    `| restart after kill -9 (+1,000 changes while down) → in-sync (s), whole process from spawn | ${f2(m(r1, 'restartS'))} | ${f2(m(r1, 'dryS'))} (\`rsync -a -n\`) | ${f2(m(r1, 'restartS') / m(r1, 'dryS'))} × dry run |`,
    `| restart: the comparison alone (both trees, xattrs and ACLs; the \`reconcile:\` log line, s) | ${f2(m(r1, 'compareS'))} | ${f2(m(r1, 'dryS'))} (\`rsync -a -n\`) | ${f2(m(r1, 'compareS') / m(r1, 'dryS'))} × dry run |`,
    `| restart → in-sync, vs the dry run with livesync's flags (-HAXS --delete: what a full reconciling rsync pass compares) | ${f2(m(r1, 'restartS'))} | ${f2(m(r1, 'faithfulS'))} (\`rsync -aHAXS --delete -n\`) | ${f2(m(r1, 'restartS') / m(r1, 'faithfulS'))} × faithful dry run |`,
    `| peak RSS (VmHWM) before → after ${(STORM_PATHS * STORM_ROUNDS).toLocaleString('en')} events over ${STORM_PATHS.toLocaleString('en')} paths (MiB); queue raised to 2M events, ${st.overflows} overflow(s) | ${f0(st.beforeMb)} → ${f0(st.afterMb)} | ${STORM_RSS_BUDGET_MB} (budget) | ${f2(st.afterMb / STORM_RSS_BUDGET_MB)} × budget |`,
    `| storm: writing the events (s) / then draining to a passed flush (s), one run | ${f2(st.writeS)} / ${f2(st.drainS)} | | |`,
  ];
  return rows.join('\n');
}
