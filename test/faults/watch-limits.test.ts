/**
 * Watch limits, through the real CLI. fs.inotify.max_user_watches is global (per user, and every test runs as
 * root): each test sets it just above what the machine's processes hold right now, so nobody else is starved,
 * and ALWAYS restores it in `finally`, holding the low value as briefly as the test allows.
 *   - preflight, --no-raise-limits: a tree with more directories than the limit is refused, exit 3, one line
 *     naming the exact sysctl to run
 *   - preflight as root (default --raise-limits): the limit is raised (room for 2 × dirs) with a log line, and it runs
 *   - exhaustion at run time: directories created past the limit are listed as unwatched in status, and what
 *     changes in them still reaches the target (periodic rescan), 0 differences
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { cli, Daemon } from '../helpers/daemon.ts';
import { inotifyUsage } from '../../src/sys/sysctl.ts';
import { converge, overrideSysctl, readSysctlNumber, statusUntil } from './helpers.ts';

const skip = rootSkipReason();
const WATCHES = 'fs.inotify.max_user_watches';

function makeDirs(root: string, count: number): void {
  for (let i = 0; i < count; i++) mkdirSync(`${root}/g${Math.floor(i / 50)}/d${i}`, { recursive: true });
}

/**
 * The preflight tests' set-up: a source with 500 more directories than a max_user_watches set 1,000 above what
 * the machine holds now; `dirs` is what the job must watch (d*, g*, the root). Disposing restores the sysctl.
 */
function overLimitTree(tag: string): {
  src: string; dst: string; state: string; limit: number; dirs: number; low: ReturnType<typeof overrideSysctl>;
} & Disposable {
  const src = tmpfsDir(`f-${tag}-src`);
  const dst = tmpfsDir(`f-${tag}-dst`);
  const state = tmpfsDir(`f-${tag}-state`, '16m', '700');
  const limit = inotifyUsage(0).watches + 1_000;
  makeDirs(src.path, limit + 500);
  const dirs = limit + 500 + Math.ceil((limit + 500) / 50) + 1;
  const low = overrideSysctl(WATCHES, limit);
  return {
    src: src.path, dst: dst.path, state: state.path, limit, dirs, low,
    [Symbol.dispose]: () => {
      low.restore();
      for (const d of [state, dst, src]) d[Symbol.dispose]();
    },
  };
}

test('preflight with --no-raise-limits: a tree above max_user_watches is refused with the sysctl to run', { skip, timeout: 60_000 }, async () => {
  using t = overLimitTree('wl');
  const { limit, dirs, low } = t;
  try {
    const r = await cli(['start', t.src, t.dst, '--state-dir', t.state, '--name', 'wl', '--no-raise-limits'], { timeoutMs: 60_000 });
    low.restore();
    assert.equal(r.code, 3, `exit 3 (configuration): ${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('{'));
    assert.equal(lines.length, 2, r.stderr);
    assert.match(lines[0]!, new RegExp(`^livesync: the source has ${dirs} directories to watch and fs\\.inotify\\.max_user_watches is ${limit} \\(\\d+ held by other programs of this user\\)$`));
    const fix = /^ {2}fix: run: sysctl -w fs\.inotify\.max_user_watches=(\d+) /.exec(lines[1]!);
    assert.ok(fix, lines[1]);
    assert.ok(Number(fix[1]) >= 2 * dirs, `the sysctl leaves room for twice the tree: ${fix[1]}`);
  } finally {
    low.restore();
  }
  assert.equal(readSysctlNumber(WATCHES), Number(low.saved), 'sysctl restored');
});

test('preflight as root: max_user_watches is raised to fit twice the tree, with a log line, and the job runs', { skip, timeout: 60_000 }, async () => {
  using t = overLimitTree('wr');
  const { limit, dirs, low } = t;
  try {
    await using d = new Daemon([t.src, t.dst, '--state-dir', t.state, '--name', 'wr']);
    const raised = await d.waitFor((r) => typeof r.msg === 'string' && r.msg.startsWith(`raised ${WATCHES}`), 30_000, 'the raise log line');
    const to = Number(new RegExp(`^raised fs\\.inotify\\.max_user_watches from ${limit} to (\\d+) `).exec(String(raised.msg))?.[1]);
    assert.ok(to >= 2 * dirs, `raised to room for twice the tree: ${raised.msg}`);
    assert.equal(readSysctlNumber(WATCHES), to);
    low.restore(); // back to the machine's value (larger), before anything else
    const s = await statusUntil(t.state, 'wr', (x) => x.state === 'in-sync', 60_000);
    assert.equal(s.state, 'in-sync');
    assert.equal(s.watchedDirs, dirs, 'every directory watched');
    assert.equal(s.unwatchedDirs, 0);
    assert.equal(await d.stop(), 0);
  } finally {
    low.restore();
  }
  assert.equal(readSysctlNumber(WATCHES), Number(low.saved), 'sysctl restored');
});

test('watch limit hit at run time: unwatched dirs listed in status, their changes still arrive, 0 differences', { skip, timeout: 120_000 }, async () => {
  using src = tmpfsDir('f-wx-src');
  using dst = tmpfsDir('f-wx-dst');
  using state = tmpfsDir('f-wx-state', '16m', '700');
  makeDirs(src.path, 10);
  const low = overrideSysctl(WATCHES, inotifyUsage(0).watches + 60);
  try {
    await using d = new Daemon([src.path, dst.path, '--state-dir', state.path, '--name', 'wx', '--no-raise-limits']);
    await d.waitState('in-sync', 60_000);
    // 200 new directories: the room for ~40 more watches runs out
    for (let i = 0; i < 200; i++) {
      mkdirSync(`${src.path}/new/n${i}`, { recursive: true });
      writeFileSync(`${src.path}/new/n${i}/created`, `${i}\n`);
    }
    const s = await statusUntil(state.path, 'wx', (x) => x.unwatchedDirs > 0 && x.unwatched.length > 0, 30_000);
    low.restore(); // the limit is back; the unwatched directories heal at their next retry
    assert.ok(s.unwatchedDirs > 0, 'unwatched directories counted');
    assert.ok(s.unwatched.every((u) => u.errno === 'ENOSPC' && u.path.startsWith('new/n')), JSON.stringify(s.unwatched.slice(0, 3)));
    assert.ok(d.records.some((r) => r.event === 'watch-failed' && r['errno'] === 'ENOSPC'), 'a watch-failed log line (warn)');
    // changes inside directories that have no watch: no event will ever say so; the periodic rescan must find them
    const blind = s.unwatched.slice(0, 5).map((u) => `${src.path}/${u.path}`);
    for (const dir of blind) writeFileSync(`${dir}/written-while-unwatched`, 'x\n');
    assert.deepEqual(await converge(src.path, dst.path, 60_000), [], 'changes in unwatched directories reached the target');
    const healed = await statusUntil(state.path, 'wx', (x) => x.unwatchedDirs === 0, 45_000);
    assert.equal(healed.unwatchedDirs, 0, 'every directory watched again once the limit allows');
    assert.equal(healed.pid, d.child.pid, 'same daemon throughout');
    assert.equal(await d.stop(), 0);
  } finally {
    low.restore();
  }
});
