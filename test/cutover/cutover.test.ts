/**
 * The whole cutover through the real CLI in a private mount namespace: tmpfs "source" and "share", a running
 * `livesync start`, a writer zoo, `livesync cutover --yes`. Then every counter is gap-free on the share, the old
 * tree received nothing after the freeze, every writer is alive. Failures injected at each step leave every
 * writer running and nothing lost, with the documented exit code; --dry-run changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { cli, CLI, Daemon } from '../helpers/daemon.ts';
import { spawn, spawnSync } from 'node:child_process';
import { counters, startZoo } from '../helpers/zoo.ts';
import { makeTree } from '../../bench/tools.ts';

const skip = rootSkipReason();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Rig {
  src: string;
  dst: string;
  state: string;
  daemon: Daemon;
}

async function withRig(files: number, env: Record<string, string>, body: (rig: Rig) => Promise<void>): Promise<void> {
  using src = tmpfsDir('co-src', '1g');
  using dst = tmpfsDir('co-dst', '1g');
  using state = tmpfsDir('co-state', '16m', '700');
  makeTree(src.path, files);
  await using daemon = new Daemon([src.path, dst.path, '--state-dir', state.path, '--name', 'co'], env);
  try {
    await daemon.waitState('in-sync', 180_000);
    await body({ src: src.path, dst: dst.path, state: state.path, daemon });
  } finally {
    await cli(['stop', '--state-dir', state.path]);
    // unmount whatever a test left on the source or the old-tree path
    for (const p of [src.path, join(state.path, 'co', 'old')]) spawnSync('umount', ['-l', p]);
  }
}

async function cutover(rig: Rig, extra: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string; report: Record<string, unknown> | null }> {
  const r = await cli(['cutover', '--state-dir', rig.state, '--yes', '--json', ...extra], { timeoutMs: 120_000 });
  let report: Record<string, unknown> | null;
  try {
    report = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    report = null;
  }
  return { ...r, report };
}

/** The source path shows the share (same filesystem as the target). */
function shareAtSource(rig: Rig): boolean {
  return statSync(rig.src).dev === statSync(rig.dst).dev;
}

function mountedAt(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'latin1').split('\n').some((l) => l.split(' ')[4] === path);
}

test('cutover of a 100k-file tree with live writers: gap-free on the share, nothing more on the old tree', { skip, timeout: 400_000 }, async (t) => {
  await withRig(100_000, {}, async (rig) => {
    await using zoo = startZoo(rig.src);
    await sleep(1500);
    const r = await cutover(rig, ['--verify']);
    t.diagnostic(r.stdout.slice(0, 2000));
    assert.equal(r.code, 0, `cutover exit 0\n${r.stdout}\n${r.stderr}`);
    assert.equal(r.report?.['outcome'], 'completed');
    assert.ok(shareAtSource(rig), 'the share is mounted at the source path');
    const oldTree = join(rig.state, 'co', 'old');
    const oldBefore = counters(oldTree);
    await sleep(1500);
    assert.deepEqual(counters(oldTree), oldBefore, 'the old tree receives nothing after the cutover');
    assert.deepEqual(zoo.alive(), [true, true, true, true], 'every writer is alive');
    for (const p of zoo.procs) {
      const cwd = readlinkSync(`/proc/${p.pid}/cwd`);
      assert.equal(statSync(cwd).dev, statSync(rig.dst).dev, `pid ${p.pid} cwd is on the share`);
    }
    await zoo.stop();
    const onShare = counters(rig.dst);
    for (const [name, c] of Object.entries(onShare)) {
      assert.deepEqual(c.gaps, [], `${name} is gap-free on the share`);
      assert.ok(c.last > (oldBefore[name]?.last ?? 0), `${name} kept counting on the share (${c.last} > ${oldBefore[name]?.last})`);
    }
    const status = JSON.parse((await cli(['status', '--state-dir', rig.state, '--json'])).stdout) as { state: string };
    assert.equal(status.state, 'cut-over');
  });
});

const failures: Array<{ step: string; env: Record<string, string>; args: string[]; code: number; outcome: string; mounted: boolean }> = [
  { step: 'final-delta (rsync fails)', env: { LIVESYNC_TEST_FAIL_STEP: 'final-delta' }, args: [], code: 5, outcome: 'rolled-back', mounted: false },
  { step: 'mount-share (mount fails)', env: { LIVESYNC_TEST_FAIL_STEP: 'mount-share' }, args: [], code: 5, outcome: 'rolled-back', mounted: false },
  { step: 'freeze timeout (--max-freeze)', env: { LIVESYNC_TEST_PAUSE_IN_FREEZE_MS: '800' }, args: ['--max-freeze', '300'], code: 5, outcome: 'rolled-back', mounted: false },
  { step: 'repoint fails (after the commit)', env: { LIVESYNC_TEST_FAIL_STEP: 'repoint' }, args: [], code: 6, outcome: 'completed-with-problems', mounted: true },
];

for (const f of failures) {
  test(`a failure at ${f.step}: exit ${f.code}, every writer running, nothing lost`, { skip, timeout: 120_000 }, async () => {
    await withRig(2_000, f.env, async (rig) => {
      await using zoo = startZoo(rig.src);
      await sleep(800);
      const r = await cutover(rig, f.args);
      assert.equal(r.code, f.code, `exit ${f.code}\n${r.stdout}\n${r.stderr}`);
      assert.equal(r.report?.['outcome'], f.outcome);
      assert.equal(shareAtSource(rig), f.mounted, f.mounted ? 'the share stays mounted (after the commit)' : 'the share is not mounted on the source');
      assert.equal(mountedAt(join(rig.state, 'co', 'old')), f.mounted, 'the old-tree bind exists only after the commit');
      await sleep(500);
      assert.deepEqual(zoo.alive(), [true, true, true, true], 'every writer is alive');
      await zoo.stop();
      // rolled back: the writers never left the source; after the commit without re-point they kept the old tree
      const where = f.mounted ? join(rig.state, 'co', 'old') : rig.src;
      for (const [name, c] of Object.entries(counters(where))) assert.deepEqual(c.gaps, [], `${name} gap-free in ${where}`);
    });
  });
}

test('livesync killed with -9 during the freeze: every writer runs again, recover cleans up', { skip, timeout: 120_000 }, async () => {
  await withRig(2_000, { LIVESYNC_TEST_PAUSE_IN_FREEZE_MS: '5000' }, async (rig) => {
    await using zoo = startZoo(rig.src);
    await sleep(800);
    const client = spawn(CLI, ['cutover', '--state-dir', rig.state, '--yes', '--json', '--max-freeze', '10000'], { stdio: 'ignore' });
    const clientExit = new Promise((resolve) => client.once('exit', resolve));
    await rig.daemon.waitFor((r) => typeof r.msg === 'string' && r.msg.startsWith('froze '), 30_000, 'the freeze');
    const before = counters(rig.src)['held.log']!.last;
    rig.daemon.child.kill('SIGKILL');
    await rig.daemon.exited();
    await sleep(2000);
    assert.ok(counters(rig.src)['held.log']!.last > before, 'the held-fd writer runs again within 2 s');
    assert.deepEqual(zoo.alive(), [true, true, true, true]);
    assert.equal(await clientExit, 7, 'the cutover client reports the daemon gone (exit 7)');
    const rec = await cli(['recover', 'co', '--source', rig.src, '--state-dir', rig.state, '--apply']);
    assert.equal(rec.code, 0, rec.stderr);
    assert.match(rec.stdout, /before the commit point/);
    assert.equal(mountedAt(join(rig.state, 'co', 'old')), false, 'recover unmounted the old-tree bind');
  });
});

test('--dry-run changes nothing', { skip, timeout: 120_000 }, async () => {
  await withRig(2_000, {}, async (rig) => {
    await using zoo = startZoo(rig.src);
    await sleep(500);
    const mounts = readFileSync('/proc/self/mountinfo', 'latin1');
    const r = await cli(['cutover', '--state-dir', rig.state, '--dry-run', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { outcome: string; processes: unknown[] };
    assert.equal(report.outcome, 'dry-run');
    assert.ok(report.processes.length >= 4, 'the plan lists the writers');
    assert.equal(readFileSync('/proc/self/mountinfo', 'latin1'), mounts, 'no mount changed');
    assert.equal(existsSync(join(rig.state, 'co.cutover.journal')), false, 'no journal written');
    assert.deepEqual(zoo.alive(), [true, true, true, true]);
  });
});

test('cutover without a terminal and without --yes refuses (exit 2)', { skip, timeout: 60_000 }, async () => {
  await withRig(100, {}, async (rig) => {
    const r = await cli(['cutover', '--state-dir', rig.state]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--yes/);
  });
});
