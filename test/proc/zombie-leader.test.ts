/**
 * A process whose main thread has exited (pthread_exit, or a raw exit(2) in main) while another thread runs on:
 * /proc/PID/stat shows the leader as a zombie, /proc/PID/fd, cwd and maps are empty (the leader's fd table,
 * fs_struct and mm went with it), yet the thread group lives in /proc/PID/task/TID and writes into the tree.
 * It must be planned, frozen (every live thread stopped; the zombie leader cannot be seized), re-pointed
 * through its live thread and thawed, with its writes landing on the new tree, none lost. And when the freeze
 * fails, or the re-point does, nothing of it stays frozen; a live thread the freeze could not hold fails it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ProcMover } from '../../src/proc/mover.ts';
import { listTasks, readStat } from '../../src/sys/procfs.ts';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { FIXTURES, PYTHON, Procs, WRITER, ensureNative, gap, readInts, until } from './procs.ts';

const skip = rootSkipReason();
const ZOMBIE_LEADER = join(FIXTURES, 'zombie-leader.py');
const STRACE = '/usr/bin/strace';

/** TracerPid of one thread (the zombie leader's own status would always say 0). */
function tracerOfThread(pid: number, tid: number): number {
  const m = /TracerPid:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'latin1'));
  return Number(m?.[1] ?? -1);
}

/** Starts the fixture in `dir` and waits until its leader is a zombie and its thread writes; returns pid, tid. */
async function startZombieLeader(procs: Procs, dir: string): Promise<{ pid: number; tid: number }> {
  const pid = procs.start(dir, PYTHON, [ZOMBIE_LEADER, 'held.log', 'rel.log']).pid!;
  await until('the leader is a zombie and the thread writes', () => readStat(`/proc/${pid}`)?.state === 'Z' && readInts(join(dir, 'rel.log')).length > 10);
  const tid = listTasks(pid).find((t) => t !== pid);
  assert.ok(tid !== undefined, 'a live thread besides the zombie leader');
  return { pid, tid };
}

test('a zombie leader with a live thread is planned, frozen, re-pointed onto the new tree and thawed', { skip }, async () => {
  ensureNative();
  using a = tmpfsDir('zl-a', '16m');
  using b = tmpfsDir('zl-b', '16m');
  await using procs = new Procs();
  mkdirSync(join(a.path, 'app'));
  const { pid, tid } = await startZombieLeader(procs, join(a.path, 'app'));
  const files = ['app/held.log', 'app/rel.log'];

  execFileSync('cp', ['-a', `${a.path}/.`, `${b.path}/`]); // the mirror's copy before the cutover
  await using mover = await ProcMover.open();
  const planned = await mover.plan(a.path);
  assert.ok(planned.ok);
  const mine = planned.plan.processes.find((p) => p.info.pid === pid);
  assert.ok(mine, `the plan finds pid ${pid} (leader ${readStat(`/proc/${pid}`)?.state}, thread ${tid})`);
  assert.equal(mine.verdict, 'movable', JSON.stringify(mine.blockers));
  const cwd = mine.items.find((j) => j.item.kind === 'cwd')?.item;
  assert.ok(cwd?.kind === 'cwd' && cwd.tids.includes(tid) && !cwd.tids.includes(pid), `cwd read through the live thread: ${JSON.stringify(cwd)}`);
  const held = mine.items.find((j) => j.item.kind === 'fd' && j.item.rel === 'app/held.log');
  assert.ok(held?.item.kind === 'fd' && held.item.table === tid && held.action === 'reopen', `the held fd, from the live thread's table: ${JSON.stringify(held?.item)}`);

  const frozen = await mover.freeze(planned.plan);
  assert.ok(frozen.ok, frozen.ok ? '' : `${frozen.reason}: ${frozen.message} ${JSON.stringify(frozen.processes)}`);
  assert.ok(frozen.frozen.tids.includes(tid), 'the live thread is held');
  assert.equal(readStat(`/proc/${pid}/task/${tid}`)?.state, 't', 'the live thread is in a trace stop');
  assert.ok(frozen.frozen.processes.some((p) => p.info.pid === pid), 'the snapshot inside the freeze has it');
  execFileSync('rsync', ['-a', `${a.path}/`, `${b.path}/`]); // the final delta
  const atFreeze = new Map(files.map((f) => [f, readFileSync(join(a.path, f), 'latin1')]));
  const moved = await mover.repoint(frozen.frozen, { toRoot: b.path });
  const thawed = await mover.thaw(frozen.frozen);
  assert.deepEqual(moved.problems, []);
  assert.ok(moved.moved.cwd >= 1 && moved.moved.fds >= 1, JSON.stringify(moved.moved));
  assert.ok(thawed.thawed.includes(pid), JSON.stringify(thawed));
  assert.equal(tracerOfThread(pid, tid), 0, 'released');

  await until('the thread writes on B', () => files.every((f) => readInts(join(b.path, f)).length > readInts(join(a.path, f)).length + 30));
  assert.equal(readlinkSync(`/proc/${pid}/task/${tid}/cwd`), join(b.path, 'app'));
  assert.equal(readlinkSync(`/proc/${pid}/task/${tid}/fd/3`), join(b.path, 'app', 'held.log'));
  await procs.stopAll();
  for (const f of files) {
    assert.equal(gap(readInts(join(b.path, f))), undefined, `${f} on B`);
    assert.equal(readFileSync(join(a.path, f), 'latin1'), atFreeze.get(f), `nothing written to ${f} on A after the freeze`);
  }
});

test('a zombie-leader process is released when the freeze fails and when the re-point fails', { skip }, async () => {
  ensureNative();
  using a = tmpfsDir('zl-a2', '16m');
  using b = tmpfsDir('zl-b2', '16m'); // empty: nothing to re-point onto
  await using procs = new Procs();
  mkdirSync(join(a.path, 'app'));
  mkdirSync(join(a.path, 'map'));
  const { pid, tid } = await startZombieLeader(procs, join(a.path, 'app'));
  await using mover = await ProcMover.open();
  const writes = (): number => readInts(join(a.path, 'app', 'rel.log')).length;

  // a blocker (writable shared mapping) starts using the tree after the plan: the freeze gives up
  const planned = await mover.plan(a.path);
  assert.ok(planned.ok);
  assert.ok(planned.plan.processes.some((p) => p.info.pid === pid && p.verdict === 'movable'));
  const mapper = procs.start(join(a.path, 'map'), PYTHON, [WRITER, 'mmap', 'shm.dat']);
  await until('the mapper mapped its file', () => readFileSync(`/proc/${mapper.pid}/maps`, 'latin1').includes('shm.dat'));
  const failed = await mover.freeze(planned.plan, { rescan: 'all' }); // 'all': the mapper is our child, which 'new' skips
  assert.equal(failed.ok ? 'ok' : failed.reason, 'blockers');
  assert.equal(tracerOfThread(pid, tid), 0, 'released after the failed freeze');
  let before = writes();
  await until('it writes again after the failed freeze', () => writes() > before + 5);

  // the re-point cannot happen (B is empty): thaw releases it, and it carries on in A
  const frozen = await mover.freeze(planned.plan, { skipBlockers: true });
  assert.ok(frozen.ok, frozen.ok ? '' : `${frozen.reason}: ${frozen.message} ${JSON.stringify(frozen.processes)}`);
  assert.ok(frozen.frozen.tids.includes(tid));
  const moved = await mover.repoint(frozen.frozen, { toRoot: b.path });
  assert.ok(!moved.ok && moved.problems.some((p) => p.pid === pid && p.reason === 'missing-on-new-root'), JSON.stringify(moved.problems));
  await mover.thaw(frozen.frozen);
  assert.equal(tracerOfThread(pid, tid), 0, 'released after the failed re-point');
  before = writes();
  await until('it writes again in A', () => writes() > before + 5);
  assert.equal(readlinkSync(`/proc/${pid}/task/${tid}/cwd`), join(a.path, 'app'));
});

test('a live thread the freeze cannot hold (traced by someone else) fails the freeze, nothing stays frozen, and the next plan names it a blocker', { skip: skip ?? (existsSync(STRACE) ? undefined : `${STRACE} not installed`) }, async () => {
  ensureNative();
  using a = tmpfsDir('zl-a3', '16m');
  await using procs = new Procs();
  for (const d of ['threads', 'tdir']) mkdirSync(join(a.path, d));
  const pid = procs.start(join(a.path, 'threads'), PYTHON, [WRITER, 'threads']).pid!;
  await until('the threads write', () => readInts(join(a.path, 'threads', 'thread1.log')).length > 10 && listTasks(pid).length >= 4);
  await using mover = await ProcMover.open();
  const planned = await mover.plan(a.path);
  assert.ok(planned.ok);
  assert.ok(planned.plan.processes.some((p) => p.info.pid === pid && p.verdict === 'movable'));

  // strace without -f traces one thread only: the leader's TracerPid stays 0, the helper cannot seize that thread
  const tid = listTasks(pid).find((t) => t !== pid)!;
  procs.start(a.path, STRACE, ['-o', '/dev/null', '-p', String(tid)], { stderr: 'pipe' });
  await until('strace traces the thread', () => tracerOfThread(pid, tid) !== 0);
  const failed = await mover.freeze(planned.plan);
  assert.equal(failed.ok ? 'ok' : failed.reason, 'seize-failed', failed.ok ? 'a thread was left running' : failed.message);
  assert.ok(!failed.ok && failed.processes.some((p) => p.pid === pid && p.detail.includes(String(tid))), JSON.stringify(failed));
  for (const t of listTasks(pid).filter((t) => t !== tid)) assert.equal(tracerOfThread(pid, t), 0, `thread ${t} released`);
  // planned now, the traced thread is seen before any freeze: a blocker, saying by whom
  const again = await mover.plan(a.path);
  assert.ok(again.ok);
  const seen = again.plan.processes.find((p) => p.info.pid === pid);
  assert.equal(seen?.verdict, 'blocker', JSON.stringify(seen?.blockers));
  assert.match(seen!.blockers.map((b) => b.text).join('; '), new RegExp(`already traced by pid ${tracerOfThread(pid, tid)}`));
});
