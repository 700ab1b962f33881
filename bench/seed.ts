/**
 * Seed benchmark (issue #2): the seed of a 100k-file tree (bench/tools.ts makeTree: 100 small files per
 * directory under one top-level directory) into an empty tmpfs target, side by side with a plain `rsync -a`
 * of the same tree in the same run. The tree is built once; every variant runs once per round, in a rotated
 * order, into a fresh tmpfs; medians of RUNS (default 7) rounds. Rows:
 *   rsync -a                                  the anchor
 *   rsync -aHAXS --numeric-ids -x ...         livesync's flags in one plain process (what -HAXS cost)
 *   livesync start --seed-workers 1..4        the real CLI; the seed's own duration (its seed-done event)
 *   seed(), 2 workers, no --inplace           in-process ablation: what --inplace saves
 *   seed() as before this change's progress   rsync --info=progress2 piped through livesync, one worker
 *   tree with 2,000 hard-link pairs spanning directories: seed(), 2 workers vs `rsync -aH`
 */
import { spawn } from 'node:child_process';
import { linkSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { median } from './probe.ts';
import { makeTree, scratch, timeCommand } from './tools.ts';
import { CLI } from '../test/helpers/daemon.ts';
import { EventBus } from '../src/events/event.ts';
import { run } from '../src/sys/exec.ts';
import { MIGRATION_FLAGS } from '../src/sync/rsync-args.ts';
import { seed } from '../src/sync/seed.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 7);
const TREE = Number(process.env['BENCH_SEED_TREE'] ?? 100_000);
const LINK_PAIRS = 2_000;

type Variant = { name: string; linked?: boolean; run: (src: string, dst: string) => Promise<number> };

/** `livesync start` until its seed-done event; returns the seed's own duration (ms). */
export async function cliSeed(src: string, dst: string, workers: number, cli = CLI): Promise<number> {
  const state = scratch('seed-state', '64m');
  try {
    const child = spawn(cli, ['start', src, dst, '--state-dir', state.path, '--name', 'bench', '--no-heartbeat', '--seed-workers', String(workers)], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    const ms = await new Promise<number>((resolve, reject) => {
      let buf = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (c: string) => {
        buf += c;
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) if (l.includes('"event":"seed-done"')) resolve((JSON.parse(l) as { durationMs: number }).durationMs);
      });
      void exited.then(() => reject(new Error('livesync exited before its seed was done')));
    });
    child.kill('SIGTERM');
    await exited;
    return ms;
  } finally {
    state.dispose();
  }
}

/** seed() in this process (no watcher, no daemon), for the ablations. */
async function inProcess(src: string, dst: string, workers: number, inplace?: boolean): Promise<number> {
  const r = await seed({ source: src, target: dst, excludeArgs: [], workers, maxDeleteCount: 0, bus: new EventBus(), isExcluded: () => false, ...(inplace === undefined ? {} : { inplace }) });
  if (r.outcome !== 'ok') throw new Error(`seed failed: ${r.message}`);
  return r.durationMs;
}

/** The former seed's single run: --info=progress2 read line by line by livesync (one stream event per line). */
async function progress2(src: string, dst: string): Promise<number> {
  const t0 = performance.now();
  let lines = 0;
  const args = [...MIGRATION_FLAGS, '--delete', '--info=progress2', '--no-human-readable', '--stats', `${src}/`, `${dst}/`];
  const r = await run('rsync', args, { env: { LC_ALL: 'C' }, onStdout: (chunk) => void (lines += chunk.split('\r').length) });
  if (r.exitCode !== 0 || lines === 0) throw new Error(`rsync progress2 failed: ${r.stderr}`);
  return performance.now() - t0;
}

const rsyncA = async (src: string, dst: string): Promise<number> => timeCommand('rsync', ['-a', `${src}/`, `${dst}/`]);

/** Runs every variant once per round into a fresh target, rotating the order; medians in seconds. */
async function rounds(trees: { plain: string; linked: string }, variants: Variant[]): Promise<Map<string, number>> {
  const times = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let round = 0; round < RUNS; round++) {
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(k + round) % variants.length]!;
      const dst = scratch('seed-dst');
      try {
        times.get(v.name)!.push((await v.run(v.linked ? trees.linked : trees.plain, dst.path)) / 1000);
      } finally {
        dst.dispose();
      }
    }
    process.stderr.write(`bench seed: round ${round + 1}/${RUNS}\n`);
  }
  return new Map([...times].map(([k, t]) => [k, median(t)]));
}

const f2 = (n: number | undefined): string => (n !== undefined && Number.isFinite(n) ? n.toFixed(2) : 'n/a');

const load = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' / ');

export async function benchSeed(): Promise<string> {
  const loadBefore = load();
  const src = scratch('seed-src');
  const linked = scratch('seed-linked');
  try {
    makeTree(src.path, TREE);
    makeTree(linked.path, TREE);
    // pairs whose two names sit in directories far apart: a split seed puts them in different lists
    mkdirSync(join(linked.path, 'links'));
    const dirs = Math.floor(TREE / 100);
    for (let i = 0; i < LINK_PAIRS; i++) {
      const [dir, k] = [i % dirs, Math.floor(i / dirs) % 100];
      linkSync(join(linked.path, 'tree', `d${String(dir).padStart(5, '0')}`, `f${String(dir * 100 + k).padStart(7, '0')}`), join(linked.path, 'links', `l${i}`));
    }
    // one set of rounds for everything, so load that comes and goes hits every variant alike
    const main = await rounds({ plain: src.path, linked: linked.path }, [
      { name: 'rsync -a', run: rsyncA },
      { name: 'rsync flags', run: async (s, d) => timeCommand('rsync', [...MIGRATION_FLAGS, '--delete', `${s}/`, `${d}/`]) },
      ...[1, 2, 3, 4].map((w) => ({ name: `cli ${w}`, run: (s: string, d: string) => cliSeed(s, d, w) })),
      { name: 'no inplace 2', run: (s, d) => inProcess(s, d, 2, false) },
      { name: 'progress2', run: progress2 },
      { name: 'rsync -aH', linked: true, run: async (s, d) => timeCommand('rsync', ['-aH', `${s}/`, `${d}/`]) },
      { name: 'seed 2', linked: true, run: (s, d) => inProcess(s, d, 2) },
    ]);
    const a = main.get('rsync -a')!;
    const row = (what: string, s: number | undefined, anchor = a, anchorName = 'rsync -a'): string => `| ${what} | ${f2(s)} | ${f2(anchor)} | ${f2((s ?? NaN) / anchor)} × ${anchorName} |`;
    return [
      `| seed of ${TREE} files into an empty target (tmpfs → tmpfs, medians of ${RUNS}) | seconds | anchor (s) | ratio |`,
      '|---|---|---|---|',
      row('plain `rsync -a` (anchor)', a),
      row("one plain rsync with livesync's flags (-aHAXS --numeric-ids -x --delete)", main.get('rsync flags')),
      ...[1, 2, 3, 4].map((w) => row(`livesync seed, --seed-workers ${w}`, main.get(`cli ${w}`))),
      row('seed(), 2 workers, without --inplace', main.get('no inplace 2')),
      row('former single run: --info=progress2 read by livesync', main.get('progress2')),
      row(`seed(), 2 workers, tree + ${LINK_PAIRS} hard-link pairs across directories`, main.get('seed 2'), main.get('rsync -aH')!, 'rsync -aH'),
      '',
      `Load average (1/5/15 min) before: ${loadBefore}; after: ${load()} (other work on the machine skews the medians).`,
    ].join('\n');
  } finally {
    src.dispose();
    linked.dispose();
  }
}
