/**
 * Failure paths never leave a process frozen and never pass for success. A process in a frozen cgroup (v2)
 * stops for ptrace but never runs an injected syscall: the plan calls it a blocker; if its cgroup is frozen
 * after our freeze, the re-point times out, reports it, restores its registers and the thaw releases it.
 * A plan with a blocker is refused whole unless skipBlockers.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readlinkSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ProcMover } from '../../src/proc/mover.ts';
import { cgroupMounts } from '../../src/sys/procfs.ts';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { PYTHON, Procs, WRITER, ensureNative, tracerOf, until } from './procs.ts';

function cgroupSkipReason(): string | undefined {
  const root = rootSkipReason();
  if (root) return root;
  const v2 = cgroupMounts().v2;
  if (!v2) return 'no cgroup v2 hierarchy mounted';
  try {
    const probe = join(v2, `livesync-probe-${process.pid}`);
    mkdirSync(probe);
    rmdirSync(probe);
  } catch {
    return `cannot create a cgroup under ${v2}`;
  }
  return undefined;
}

const read = (p: string): string => readFileSync(p, 'latin1');

test('a frozen cgroup: blocker in the plan; frozen after our freeze, the re-point times out and releases', { skip: cgroupSkipReason() }, async () => {
  ensureNative();
  using a = tmpfsDir('fail-a', '16m');
  using b = tmpfsDir('fail-b', '16m');
  await using procs = new Procs();
  const cg = join(cgroupMounts().v2!, `livesync-test-${process.pid}`);
  mkdirSync(cg);
  try {
    const p = procs.start(a.path, 'sleep', ['1000']);
    writeFileSync(join(cg, 'cgroup.procs'), String(p.pid));
    await using mover = await ProcMover.open();

    writeFileSync(join(cg, 'cgroup.freeze'), '1');
    await until('cgroup frozen', () => /frozen 1/.test(read(join(cg, 'cgroup.events'))));
    const planned = await mover.plan(a.path);
    assert.ok(planned.ok);
    const mine = planned.plan.processes.find((x) => x.info.pid === p.pid);
    assert.ok(mine?.blockers.some((x) => x.reason === 'cgroup-frozen'), JSON.stringify(mine?.blockers));
    const refused = await mover.freeze(planned.plan);
    assert.equal(refused.ok, false);
    assert.equal(refused.ok ? '' : refused.reason, 'blockers');
    assert.equal(tracerOf(p.pid!), 0, 'nothing was frozen');

    writeFileSync(join(cg, 'cgroup.freeze'), '0');
    await until('cgroup thawed', () => /frozen 0/.test(read(join(cg, 'cgroup.events'))));
    const again = await mover.plan(a.path);
    assert.ok(again.ok);
    const frozen = await mover.freeze(again.plan);
    assert.ok(frozen.ok);
    writeFileSync(join(cg, 'cgroup.freeze'), '1'); // the injected syscalls will never run
    const moved = await mover.repoint(frozen.frozen, { toRoot: b.path });
    assert.equal(moved.ok, false);
    assert.ok(moved.problems.some((x) => x.pid === p.pid && /ETIMEDOUT/.test(x.detail)), JSON.stringify(moved.problems));
    const thawed = await mover.thaw(frozen.frozen);
    assert.deepEqual(thawed.thawed, [p.pid]);
    assert.equal(tracerOf(p.pid!), 0, 'released');

    writeFileSync(join(cg, 'cgroup.freeze'), '0');
    await until('runs again', () => /^State:\s+S/m.test(read(`/proc/${p.pid}/status`)));
    assert.equal(readlinkSync(`/proc/${p.pid}/cwd`), a.path, 'untouched');
  } finally {
    writeFileSync(join(cg, 'cgroup.freeze'), '0');
    await procs.stopAll();
    await until('cgroup empty', () => read(join(cg, 'cgroup.procs')).trim() === '');
    rmdirSync(cg);
  }
});

test('a plan with a blocker is refused whole; skipBlockers freezes the others and never the blocker', { skip: rootSkipReason() }, async () => {
  ensureNative();
  using a = tmpfsDir('fail-b2', '16m');
  await using procs = new Procs();
  mkdirSync(join(a.path, 'w'));
  const writer = procs.start(join(a.path, 'w'), PYTHON, [WRITER, 'relative', 'rel.log']);
  const mapper = procs.start(join(a.path, 'w'), PYTHON, [WRITER, 'mmap', 'shm.dat']);
  await until('mapped', () => read(`/proc/${mapper.pid}/maps`).includes('shm.dat'));
  await using mover = await ProcMover.open();
  const planned = await mover.plan(a.path);
  assert.ok(planned.ok);
  const refused = await mover.freeze(planned.plan);
  assert.ok(!refused.ok && refused.reason === 'blockers' && refused.processes.some((x) => x.pid === mapper.pid));
  assert.equal(tracerOf(writer.pid!), 0);
  const frozen = await mover.freeze(planned.plan, { skipBlockers: true });
  assert.ok(frozen.ok);
  assert.ok(tracerOf(writer.pid!) > 0 && tracerOf(mapper.pid!) === 0);
  await mover.thaw(frozen.frozen);
  assert.equal(tracerOf(writer.pid!), 0);
});
