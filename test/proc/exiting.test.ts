/**
 * Processes caught while exiting are gone, not foreign. An exiting process loses its root (exit_fs) and its
 * namespaces (exit_task_namespaces) before it turns zombie, so /proc/PID/root and /proc/PID/ns/mnt stop
 * answering while /proc/PID/stat still says running; such a read must never make it "in another mount
 * namespace" (a blocker that aborts the whole freeze). A process truly in another mount namespace that holds
 * the tree still blocks, with that reason.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { HelperHolder } from '../../src/proc/holder.ts';
import { ProcMover } from '../../src/proc/mover.ts';
import { placement, type SelfPlacement } from '../../src/proc/placement.ts';
import { scanContext } from '../../src/proc/scan.ts';
import { survey } from '../../src/proc/survey.ts';
import { resolveTree } from '../../src/proc/tree.ts';
import { nsId, readStat, statId } from '../../src/sys/procfs.ts';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { Procs, ensureNative, tracerOf, until } from './procs.ts';

const skip = rootSkipReason();
const self = (): SelfPlacement => ({ mntNs: nsId('self', 'mnt'), root: statId('/proc/self/root') });
const children = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

test('placement: a live process resolves paths like us; a zombie (where every exit race ends) is gone, not foreign', { skip }, async () => {
  using a = tmpfsDir('exit-a', '16m');
  await using procs = new Procs();
  // sh forks `true`, then becomes sleep, which never reaps it: a zombie whose ns and root links are gone
  const p = procs.start(a.path, 'sh', ['-c', 'true & exec sleep 1000']);
  let zombie = 0;
  await until('a zombie child under sleep', () => {
    zombie = children(p.pid!).find((c) => readStat(`/proc/${c}`)?.state === 'Z') ?? 0;
    return readStat(`/proc/${p.pid}`)?.comm === 'sleep' && zombie !== 0;
  });
  const live = readStat(`/proc/${p.pid}`)!;
  assert.deepEqual(placement(p.pid!, live.starttime, self()), { gone: false, sameMountNs: true, sameRoot: true });
  assert.deepEqual(placement(zombie, readStat(`/proc/${zombie}`)!.starttime, self()), { gone: true });
  // the same pid with another start time is another process: the one that was scanned is gone
  assert.deepEqual(placement(p.pid!, `${live.starttime}0`, self()), { gone: true });
});

/** Children of the writers right now: what the freeze surveys besides the frozen (processes the plan did not see). */
const childrenOf = (pids: number[]): number[] => pids.flatMap(children);

/** Bash writers with cwd and 64 fds in the tree, each forking (and reaping) a short-lived child all the time. */
function forkers(procs: Procs, tree: string): number[] {
  for (let i = 0; i < 64; i++) writeFileSync(join(tree, `f${i}`), '');
  const hold = 'for i in $(seq 0 63); do exec {fd}<f$i; done;';
  return ['while :; do /bin/true; done', 'while :; do sleep 0.001; done'].map((body) => procs.start(tree, 'bash', ['-c', `${hold} ${body}`]).pid!);
}

test('surveys of children caught exiting (fds and cwd in the tree): never "another mount namespace", never a blocker', { skip, timeout: 60_000 }, async (t) => {
  ensureNative();
  using a = tmpfsDir('exit-b', '16m');
  await using procs = new Procs();
  const parents = forkers(procs, a.path);
  const tree = resolveTree(a.path);
  assert.ok(tree.ok);
  await using holder = await HelperHolder.start();
  // A child holding 64 fds takes long enough to scan that it often starts exiting meanwhile: its cwd and
  // first fds were read, then its namespace and root links fail. Before the fix most such scans judged it
  // "in another mount namespace (container); has a different root directory". Bounded by count, not time.
  let holders = 0;
  const wrong: string[] = [];
  for (let n = 0; n < 500 && holders < 100; n++) {
    const only = childrenOf(parents);
    if (only.length === 0) continue;
    const { plans } = await survey(holder.helper, scanContext(tree.tree), { exclude: holder.exclude, only, sampleD: false });
    holders += plans.length;
    for (const p of plans) if (p.verdict === 'blocker') wrong.push(`${p.info.pid} (${p.info.comm}): ${p.blockers.map((b) => b.reason).join(',')}`);
  }
  t.diagnostic(`${holders} child holders surveyed`);
  assert.deepEqual(wrong, []);
});

test('writers forking short-lived children: every plan and freeze succeeds, nothing stays frozen', { skip, timeout: 120_000 }, async () => {
  ensureNative();
  using a = tmpfsDir('exit-c', '16m');
  await using procs = new Procs();
  const parents = forkers(procs, a.path);
  await using mover = await ProcMover.open();
  const failures: string[] = [];
  for (let round = 0; round < 10; round++) {
    const planned = await mover.plan(a.path);
    assert.ok(planned.ok);
    const blockers = planned.plan.processes.filter((p) => p.verdict === 'blocker');
    for (const b of blockers) failures.push(`plan ${round}: ${b.info.pid} (${b.info.comm}): ${b.blockers.map((x) => x.reason).join(',')}`);
    if (blockers.length > 0) continue;
    const frozen = await mover.freeze(planned.plan);
    if (!frozen.ok) {
      failures.push(`freeze ${round}: ${frozen.reason}: ${frozen.message} ${JSON.stringify(frozen.processes)}`);
      continue;
    }
    assert.ok(parents.every((pid) => frozen.frozen.starttimes.has(pid)), 'both writers are frozen');
    const thawed = await mover.thaw(frozen.frozen);
    assert.ok(thawed.ok, thawed.problems.join('; '));
  }
  assert.deepEqual(failures, []);
  // -1: a short-lived child exited between the listing and the read (gone, so not traced either)
  for (const pid of [...parents, ...childrenOf(parents)]) assert.ok(tracerOf(pid) <= 0, `pid ${pid} is not left traced (TracerPid ${tracerOf(pid)})`);
});

test('a process really in another mount namespace holding the tree blocks the freeze, saying so', { skip }, async () => {
  ensureNative();
  using a = tmpfsDir('exit-d', '16m');
  writeFileSync(join(a.path, 'data'), 'x');
  await using procs = new Procs();
  // fd 3 is opened on the tree's mount here, then kept across unshare(CLONE_NEWNS) and exec (the cwd moves
  // to the new namespace's copy of the mount, which is not the tree's mount)
  const p = procs.start(a.path, 'bash', ['-c', 'exec 3<data; exec unshare --mount --propagation private sleep 1000']);
  await until('sleep runs in its own mount namespace', () => readStat(`/proc/${p.pid}`)?.comm === 'sleep' && nsId(p.pid!, 'mnt') !== nsId('self', 'mnt'));
  await using mover = await ProcMover.open();
  const planned = await mover.plan(a.path);
  assert.ok(planned.ok);
  const mine = planned.plan.processes.find((x) => x.info.pid === p.pid);
  assert.ok(mine, 'the foreign process is found as a holder');
  assert.equal(mine.verdict, 'blocker');
  assert.deepEqual(mine.blockers.map((b) => b.reason), ['other-mount-namespace']);
  assert.match(mine.blockers[0]!.text, /another mount namespace/);
  const refused = await mover.freeze(planned.plan);
  assert.equal(refused.ok ? 'ok' : refused.reason, 'blockers');
  assert.equal(tracerOf(p.pid!), 0, 'nothing was frozen');
});
