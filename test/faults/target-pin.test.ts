/**
 * The target pin (native/pin-exec.c, src/sys/pin-exec.ts), deterministically: the share goes away AFTER a batch
 * checked it and BEFORE its rsync starts (the race test/faults/target-lost.test.ts hit about 1 run in 3 before
 * the pin: a batch started just before `umount -l` wrote the whole tree into the bare mountpoint). Pinned, an
 * rsync runs only where the target is the recorded filesystem: one started after the share went away runs
 * nothing (exit 121, a retry), one started before (the warm rsync) writes into the share it started with (kept
 * reachable here through a bind mount elsewhere), and none writes into the directory underneath.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { runList, WarmRsync } from '../../src/engine/batch-runner.ts';
import { seed } from '../../src/sync/seed.ts';
import { EventBus } from '../../src/events/event.ts';
import type { RsyncCommon } from '../../src/sync/rsync-args.ts';
import { PIN_EXEC_PATH } from '../../src/sys/pin-exec.ts';
import { Daemon } from '../helpers/daemon.ts';
import { converge } from './helpers.ts';

const skip = rootSkipReason();

/** A source with a few files, a tmpfs target recorded as pinned, and the target kept reachable at `keep`. */
function setUp(): { src: string; dst: string; keep: string; common: RsyncCommon } & Disposable {
  const src = tmpfsDir('pin-src');
  const dst = tmpfsDir('pin-dst');
  const keep = mkdtempSync(join(tmpdir(), 'livesync-pin-keep-'));
  execFileSync('mount', ['--bind', dst.path, keep]);
  mkdirSync(`${src.path}/d`);
  for (const f of ['a', 'b', 'd/c']) writeFileSync(`${src.path}/${f}`, f);
  const { dev, ino } = statSync(dst.path);
  return {
    src: src.path,
    dst: dst.path,
    keep,
    common: { source: src.path, target: dst.path, excludeArgs: [], targetId: { dev, ino } },
    [Symbol.dispose]() {
      spawnSync('umount', ['-l', keep]);
      rmdirSync(keep);
      dst[Symbol.dispose]();
      src[Symbol.dispose]();
    },
  };
}

test('an rsync started after the share went away runs nothing: no write into the bare mountpoint, a retry', { skip }, async () => {
  using s = setUp();
  const before = await runList(s.common, 'flat', ['a'], { deletes: true });
  assert.equal(before.outcome, 'ok', before.message);
  assert.deepEqual(readdirSync(s.keep), ['a'], 'a pinned run writes into the share');
  execFileSync('umount', ['-l', s.dst]); // the batch's own check passed a moment ago
  for (const [mode, paths] of [['flat', ['a', 'b']], ['deep', ['d']], ['deep', ['']]] as const) {
    const r = await runList(s.common, mode, paths, { deletes: true });
    assert.deepEqual([r.outcome, r.exitCode], ['retry', 121], `${mode} ${JSON.stringify(paths)}: ${r.message}`);
    assert.match(r.message, /not the filesystem recorded at start/);
  }
  const seeded = await seed({ ...s.common, workers: 2, maxDeleteCount: 0, bus: new EventBus(), isExcluded: () => false });
  assert.deepEqual([seeded.outcome, seeded.exitCode], ['retry', 121], seeded.message);
  assert.deepEqual(readdirSync(s.dst), [], 'nothing written into the bare mountpoint');
  // another filesystem mounted there is not the share either
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', s.dst]);
  const other = await runList(s.common, 'flat', ['b'], { deletes: true });
  assert.equal(other.exitCode, 121, other.message);
  assert.deepEqual(readdirSync(s.dst), [], 'nothing written onto another filesystem');
  execFileSync('umount', [s.dst]);
  assert.deepEqual(readdirSync(s.keep), ['a'], 'the share itself untouched meanwhile');
});

test('a warm rsync started while the share was there writes only into that share after it went away', { skip }, async () => {
  using s = setUp();
  const warm = new WarmRsync(s.common);
  warm.prepare();
  try {
    await new Promise((r) => setTimeout(r, 300)); // its receiver has entered the target by now
    execFileSync('umount', ['-l', s.dst]);
    const r = await runList(s.common, 'flat', ['a', 'b'], { deletes: false, warm });
    assert.equal(r.outcome, 'ok', r.message);
    assert.equal(r.files, 2, 'the warm rsync was used and copied both');
  } finally {
    warm.drop();
  }
  assert.deepEqual(readdirSync(s.dst), [], 'nothing written into the bare mountpoint');
  assert.deepEqual(readdirSync(s.keep).sort(), ['a', 'b'], 'both landed in the share');
  assert.equal(readFileSync(`${s.keep}/b`, 'utf8'), 'b');
});

test('a warm rsync unused for its maximum idle time ends (its mount namespace copy with it)', { skip }, async () => {
  using s = setUp();
  const warm = new WarmRsync(s.common, 300);
  warm.prepare();
  const pids = (): string[] => spawnSync('pgrep', ['-f', `${PIN_EXEC_PATH}|rsync .*${s.dst}`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  try {
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(pids().length > 0, 'the warm rsync runs');
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(pids(), [], 'gone after its idle time');
    const r = await runList(s.common, 'flat', ['a'], { deletes: false, warm });
    assert.equal(r.outcome, 'ok', `a fresh rsync does the batch: ${r.message}`);
  } finally {
    warm.drop();
  }
});

test('pin-exec refuses bad usage with its own exit code and never touches the mounts outside', { skip }, () => {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  assert.equal(spawnSync(PIN_EXEC_PATH, ['x', '1', '/', 'true']).status, 122);
  assert.equal(spawnSync(PIN_EXEC_PATH, ['1', '2']).status, 122);
  const root = statSync('/');
  assert.equal(spawnSync(PIN_EXEC_PATH, [String(root.dev), String(root.ino), '/', 'sh', '-c', 'exit 7']).status, 7, 'runs the program when the target matches');
  assert.equal(spawnSync(PIN_EXEC_PATH, [String(root.dev), String(root.ino), '/', '/nonexistent/program']).status, 127);
  assert.equal(readFileSync('/proc/self/mountinfo', 'utf8'), mounts, 'our mount table unchanged');
});

test('where pin-exec cannot make its namespace (root without CAP_SYS_ADMIN), the job warns once and mirrors unpinned', { skip, timeout: 60_000 }, async () => {
  using s = setUp();
  using state = tmpfsDir('pin-state', '16m', '700');
  await using d = new Daemon([s.src, s.dst, '--state-dir', state.path, '--name', 'unpinned'], {}, ['setpriv', '--bounding-set', '-sys_admin', '--']);
  await d.waitState('in-sync', 30_000);
  const warned = d.records.filter((r) => r['code'] === 'W_TARGET_UNPINNED');
  assert.equal(warned.length, 1, 'one warning');
  assert.match(String(warned[0]!.msg), /pin-exec cannot run here: exit 120: .*unshare\(CLONE_NEWNS\): Operation not permitted/);
  writeFileSync(`${s.src}/later`, 'still mirrored');
  assert.deepEqual(await converge(s.src, s.dst, 20_000), []);
  assert.equal(await d.stop(), 0);
});

test('as root, a job pins its target: no warning', { skip, timeout: 60_000 }, async () => {
  using s = setUp();
  using state = tmpfsDir('pin-state', '16m', '700');
  await using d = new Daemon([s.src, s.dst, '--state-dir', state.path, '--name', 'pinned']);
  await d.waitState('in-sync', 30_000);
  assert.deepEqual(d.records.filter((r) => r['code'] === 'W_TARGET_UNPINNED'), []);
  assert.equal(await d.stop(), 0);
});
