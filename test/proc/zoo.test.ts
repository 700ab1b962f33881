/**
 * The writer zoo, moved live from one tmpfs (A, the old tree) to another (B, standing in for the share) the
 * way the cutover does it: copy A to B, freeze, final rsync of the delta, re-point onto B, thaw. Afterwards
 * every counter on B is gap-free and A received nothing after the freeze; the writable shared mapping is a
 * blocker and nothing of it is touched.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { ProcMover } from '../../src/proc/mover.ts';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { APPEND, PYTHON, Procs, WRITER, ensureNative, gap, readInts, until } from './procs.ts';

const skip = rootSkipReason();

function fingerprint(root: string, except: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (except.includes(r)) continue;
      if (e.isDirectory()) walk(r);
      else out.set(r, createHash('sha1').update(readFileSync(join(root, r))).digest('hex'));
    }
  };
  walk('');
  return out;
}

test('the writer zoo moves from A to B without a gap, and A stays untouched after the freeze', { skip }, async () => {
  ensureNative();
  using a = tmpfsDir('zoo-a', '64m');
  using b = tmpfsDir('zoo-b', '64m');
  const outDir = mkdtempSync(join(tmpdir(), 'livesync-zoo-out-'));
  await using procs = new Procs();
  for (const d of ['sub', 'pos', 'threads', 'tdir', 'fork', 'map']) mkdirSync(join(a.path, d));
  execFileSync('touch', [join(a.path, 'sub', 'app.log'), join(a.path, 'pos', 'pos.dat')]);

  const rel = procs.start(join(a.path, 'sub'), PYTHON, [WRITER, 'relative', 'rel.log']);
  const append = procs.start(join(a.path, 'sub'), APPEND, ['app.log']);
  const pos = procs.start(join(a.path, 'pos'), PYTHON, [WRITER, 'positioned', 'pos.dat']);
  const threads = procs.start(join(a.path, 'threads'), PYTHON, [WRITER, 'threads']);
  const forker = procs.start(join(a.path, 'fork'), PYTHON, [WRITER, 'forker', 'fork.log']);
  const tailOut = openSync(join(outDir, 'tail.out'), 'w');
  const tail = procs.start(join(a.path, 'sub'), 'tail', ['-n', '+1', '-F', 'app.log'], { stdout: tailOut });
  const mapper = procs.start(join(a.path, 'map'), PYTHON, [WRITER, 'mmap', 'shm.dat']);
  const files = ['sub/rel.log', 'sub/app.log', 'threads/thread1.log', 'threads/thread2.log', 'tdir/own.log', 'fork/fork.log'];
  await until('every writer wrote', () => files.every((f) => readInts(join(a.path, f)).length > 20) && readInts(join(a.path, 'pos/pos.dat'), 9, 16).length > 20);
  await until('the mapper mapped its file', () => readFileSync(`/proc/${mapper.pid}/maps`, 'latin1').includes('shm.dat'));

  execFileSync('cp', ['-a', `${a.path}/.`, `${b.path}/`]); // the mirror's copy before the cutover
  await using mover = await ProcMover.open();
  const planned = await mover.plan(a.path);
  assert.ok(planned.ok);
  const verdict = (pid: number | undefined): string | undefined => planned.plan.processes.find((p) => p.info.pid === pid)?.verdict;
  const why = (pid: number | undefined): string => JSON.stringify(planned.plan.processes.find((p) => p.info.pid === pid)?.blockers);
  for (const child of [rel, append, pos, threads, forker, tail]) assert.equal(verdict(child.pid), 'movable', `pid ${child.pid} should be movable: ${why(child.pid)}`);
  assert.equal(verdict(mapper.pid), 'blocker');
  const mapPlan = planned.plan.processes.find((p) => p.info.pid === mapper.pid)!;
  assert.ok(mapPlan.blockers.some((x) => x.reason === 'map-shared-writable'));
  const threadPlan = planned.plan.processes.find((p) => p.info.pid === threads.pid)!;
  assert.equal(threadPlan.items.filter((j) => j.item.kind === 'cwd').length, 2, 'two fs_structs: the shared one and the unshared thread');
  const tailPlan = planned.plan.processes.find((p) => p.info.pid === tail.pid)!;
  assert.ok(tailPlan.items.some((j) => j.action === 'rewatch'), 'tail -F inotify watches are rebuilt');

  const frozen = await mover.freeze(planned.plan, { skipBlockers: true });
  assert.ok(frozen.ok, frozen.ok ? '' : `${frozen.reason}: ${frozen.message} ${JSON.stringify(frozen.processes)}`);
  assert.ok(!frozen.frozen.tids.includes(mapper.pid!), 'the blocker is never frozen');
  const atFreeze = fingerprint(a.path, ['map/shm.dat']);
  const countsAtFreeze = new Map(files.map((f) => [f, readInts(join(a.path, f)).length]));
  execFileSync('rsync', ['-a', '--delete', '--exclude', '/map/', `${a.path}/`, `${b.path}/`]); // the final delta
  const moved = await mover.repoint(frozen.frozen, { toRoot: b.path });
  const thawed = await mover.thaw(frozen.frozen);
  assert.deepEqual(moved.problems, []);
  assert.ok(moved.ok);
  assert.ok(moved.moved.cwd >= 6 && moved.moved.fds >= 2 && moved.moved.watches >= 1, JSON.stringify(moved.moved));
  assert.equal(thawed.gone.length + thawed.thawed.length, frozen.frozen.starttimes.size);

  await until('writers continue on B', () => files.every((f) => readInts(join(b.path, f)).length > (countsAtFreeze.get(f) ?? 0) + 30));
  await until('tail -F follows onto B', () => readInts(join(outDir, 'tail.out')).length > (countsAtFreeze.get('sub/app.log') ?? 0) + 30);
  assert.equal(readlinkSync(`/proc/${mapper.pid}/cwd`), join(a.path, 'map'), 'the blocker still works in A');
  await procs.stopAll();
  await sleep(50);

  for (const f of files) assert.equal(gap(readInts(join(b.path, f))), undefined, `${f} on B`);
  const records = readInts(join(b.path, 'pos/pos.dat'), 9, 16);
  assert.equal(gap(records), undefined, 'pos.dat records on B');
  assert.equal(readFileSync(join(b.path, 'pos/pos.dat'), 'latin1').slice(0, 14), `count=${String(records.length).padStart(8, '0')}`);
  assert.deepEqual(fingerprint(a.path, ['map/shm.dat']), atFreeze, 'nothing was written to A after the freeze');
  const tailed = readInts(join(outDir, 'tail.out'));
  assert.equal(gap(tailed), undefined, 'tail -F followed the file onto B');
  assert.ok(tailed.length >= (countsAtFreeze.get('sub/app.log') ?? 0) + 30, `tail -F saw lines written on B (${tailed.length})`);
  assert.ok(statSync(join(a.path, 'map/shm.dat')).size === 4096);
  rmSync(outDir, { recursive: true, force: true });
});
