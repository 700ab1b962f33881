/**
 * Changes that were lost for good in steady state (found by rounds of test/helpers/churn.ts on a running
 * daemon: the oracle kept finding a stale file on the target that no later event fixed). Each test replays the
 * exact sequence of operations in one burst against the real daemon, then waits for the oracle.
 *
 * 1. Hard links: a write through one name changes every name of the inode, but inotify reports only the name
 *    used; the batch carrying that name carries its known siblings (src/engine/hardlinks.ts). When the written
 *    name was gone by the time its batch ran (deleted, moved out of the tree, renamed where the move could not
 *    be paired), the siblings were never synced. Churn: `>fcst...... f208/f263/f317`, written through its link
 *    `f213` just before `f213` was renamed into a directory created in the same burst.
 * 2. A rename out of a recursive (DEEP) dirty entry, here a directory collapsed by a burst of more than
 *    COLLAPSE_CHILDREN changes: the marks under the renamed directory had been absorbed, so its destination
 *    got a non-recursive entry, the rename was replayed on the target (moving the stale copy) and the file
 *    written inside it before the rename never reached the target (src/engine/dirty-set.ts move).
 * 3. A directory renamed while the batch carrying a file under it is in flight: rsync found the file vanished
 *    or missing, the next batch replayed the rename on the target, and the destination had only a
 *    non-recursive entry (src/engine/dirty-set.ts: the in-flight entries move with a rename).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { COLLAPSE_CHILDREN } from '../../src/engine/dirty-set.ts';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { Daemon } from '../helpers/daemon.ts';
import { converge, flush, until } from '../faults/helpers.ts';

const skip = rootSkipReason();

/**
 * Runs `ops` while the daemon is stopped (SIGSTOP/SIGCONT to the daemon this test started), so the whole burst
 * waits in the kernel's inotify queue and is read, absorbed and batched as one: the daemon cannot take a batch
 * half-way through it (an idle mirror starts a batch at the first change). No timing is asserted.
 */
function burst(daemon: Daemon, ops: () => void): void {
  daemon.child.kill('SIGSTOP');
  try {
    ops();
  } finally {
    daemon.child.kill('SIGCONT');
  }
}

test('a change made through a hard link whose name is then deleted, moved out or renamed away reaches the other names', { skip, timeout: 120_000 }, async () => {
  // the source is a directory of the tmpfs, so a rename can move a name out of the tree (same filesystem)
  using fs = tmpfsDir('hlw-src');
  using dst = tmpfsDir('hlw-dst');
  using state = tmpfsDir('hlw-state', '16m', '700');
  const src = `${fs.path}/tree`;
  const outside = `${fs.path}/outside`;
  mkdirSync(`${src}/d1`, { recursive: true });
  mkdirSync(`${src}/d2/sub`, { recursive: true });
  mkdirSync(`${src}/d3`, { recursive: true });
  mkdirSync(outside);
  for (const [name, link] of [['a', 'd1/b'], ['c', 'd2/sub/d'], ['e', 'd3/f']] as const) {
    writeFileSync(`${src}/${name}`, `old ${name}\n`);
    linkSync(`${src}/${name}`, `${src}/${link}`);
  }
  await using daemon = new Daemon([src, dst.path, '--state-dir', state.path, '--name', 'hlw', '--no-heartbeat']);
  await daemon.waitState('in-sync', 60_000);
  assert.deepEqual(await converge(src, dst.path, 30_000), [], 'seeded');
  assert.equal(statSync(`${dst.path}/a`).ino, statSync(`${dst.path}/d1/b`).ino, 'a and d1/b linked on the target');

  burst(daemon, () => {
    // 1. written and chmod-ed through `a`, then `a` deleted: the batch carries `a` as a deletion only
    writeFileSync(`${src}/a`, 'new content written through a, longer than before\n');
    chmodSync(`${src}/a`, 0o600);
    rmSync(`${src}/a`);
    // 2. appended through `c`, then `c` moved out of the tree (the watcher reports a deletion)
    writeFileSync(`${src}/c`, 'appended through c\n', { flag: 'a' });
    renameSync(`${src}/c`, `${outside}/c`);
    // 3. the churn's sequence: rewritten through `e`, then `e` renamed into a directory created in the same burst
    //    (its watch comes after the rename: the move is unpaired) and on into another new one
    writeFileSync(`${src}/e`, 'rewritten through e\n');
    writeFileSync(`${src}/e`, 'REWRITTEN THROUGH E\n');
    mkdirSync(`${src}/new1/x/y`, { recursive: true });
    renameSync(`${src}/e`, `${src}/new1/x/y/e2`);
    mkdirSync(`${src}/new2/z`, { recursive: true });
    renameSync(`${src}/new1/x/y/e2`, `${src}/new2/z/e3`);
  });

  const f = await flush(state.path, 'hlw');
  assert.equal(f.code, 0, `flush: ${f.stdout}${f.stderr}`);
  const left = await converge(src, dst.path, 30_000);
  assert.deepEqual(left, [], 'no difference left (content, mode, hard links)');
  assert.equal(readFileSync(`${dst.path}/d1/b`, 'utf8'), 'new content written through a, longer than before\n');
  assert.equal(statSync(`${dst.path}/d1/b`).mode & 0o777, 0o600);
  assert.equal(readFileSync(`${dst.path}/d2/sub/d`, 'utf8'), 'old c\nappended through c\n');
  assert.equal(readFileSync(`${dst.path}/d3/f`, 'utf8'), 'REWRITTEN THROUGH E\n');
  assert.equal(statSync(`${dst.path}/new2/z/e3`).ino, statSync(`${dst.path}/d3/f`).ino, 'e3 and d3/f linked on the target');
  assert.equal(await daemon.stop(), 0);
});

test('a file written under a collapsed directory, whose directory is then renamed out of it, reaches the target', { skip, timeout: 120_000 }, async () => {
  using src = tmpfsDir('lcc-src');
  using dst = tmpfsDir('lcc-dst');
  using state = tmpfsDir('lcc-state', '16m', '700');
  mkdirSync(`${src.path}/P/D/E`, { recursive: true });
  writeFileSync(`${src.path}/P/D/f`, 'old f\n');
  writeFileSync(`${src.path}/P/D/E/g`, 'old g\n');
  await using daemon = new Daemon([src.path, dst.path, '--state-dir', state.path, '--name', 'lcc', '--no-heartbeat']);
  await daemon.waitState('in-sync', 60_000);
  assert.deepEqual(await converge(src.path, dst.path, 30_000), [], 'seeded');

  burst(daemon, () => {
    // more dirty children than COLLAPSE_CHILDREN: P becomes one recursive entry, absorbing what follows below it
    for (let i = 0; i <= COLLAPSE_CHILDREN; i++) writeFileSync(`${src.path}/P/burst-${i}`, `${i}\n`);
    writeFileSync(`${src.path}/P/D/f`, 'new f, written before the rename\n');
    writeFileSync(`${src.path}/P/D/E/g`, 'new g\n');
    renameSync(`${src.path}/P/D`, `${src.path}/Q`);
  });

  const f = await flush(state.path, 'lcc');
  assert.equal(f.code, 0, `flush: ${f.stdout}${f.stderr}`);
  assert.deepEqual(await converge(src.path, dst.path, 30_000), [], 'no difference left');
  assert.equal(readFileSync(`${dst.path}/Q/f`, 'utf8'), 'new f, written before the rename\n');
  assert.equal(readFileSync(`${dst.path}/Q/E/g`, 'utf8'), 'new g\n');
  assert.equal(await daemon.stop(), 0);
});

/**
 * An `rsync` first on the daemon's PATH that runs the real one, except once: while `$CTL/hold` exists, the
 * first call claims it, says so (`$CTL/waiting`) and waits for `$CTL/go`. So the test knows a batch is in flight
 * and changes the source before its rsync reads it. Nothing but the control dir goes through the shell.
 */
function heldRsync(dir: string): { env: Record<string, string>; ctl: string } {
  const real = execFileSync('sh', ['-c', 'command -v rsync'], { encoding: 'utf8' }).trim();
  const bin = `${dir}/bin`;
  const ctl = `${dir}/ctl`;
  mkdirSync(bin);
  mkdirSync(ctl);
  writeFileSync(
    `${bin}/rsync`,
    `#!/bin/sh\nif mv "$LS_TEST_CTL/hold" "$LS_TEST_CTL/claimed" 2>/dev/null; then\n  : > "$LS_TEST_CTL/waiting"\n  while [ ! -e "$LS_TEST_CTL/go" ]; do sleep 0.01; done\nfi\nexec ${real} "$@"\n`,
    { mode: 0o755 },
  );
  return { env: { PATH: `${bin}:${process.env['PATH'] ?? ''}`, LS_TEST_CTL: ctl }, ctl };
}

test('a directory renamed while the batch carrying a file under it is in flight: the file reaches its new path', { skip, timeout: 120_000 }, async () => {
  using src = tmpfsDir('lci-src');
  using dst = tmpfsDir('lci-dst');
  using state = tmpfsDir('lci-state', '16m', '700');
  using aux = tmpfsDir('lci-aux');
  mkdirSync(`${src.path}/A/sub`, { recursive: true });
  writeFileSync(`${src.path}/A/f`, 'old f\n');
  writeFileSync(`${src.path}/A/sub/g`, 'old g\n');
  const held = heldRsync(aux.path);
  await using daemon = new Daemon([src.path, dst.path, '--state-dir', state.path, '--name', 'lci', '--no-heartbeat'], held.env);
  await daemon.waitState('in-sync', 60_000);
  assert.deepEqual(await converge(src.path, dst.path, 30_000), [], 'seeded');

  writeFileSync(`${held.ctl}/hold`, '');
  writeFileSync(`${src.path}/A/f`, 'new f, in flight when A was renamed\n');
  writeFileSync(`${src.path}/A/sub/g`, 'new g\n');
  assert.ok(await until(() => existsSync(`${held.ctl}/waiting`), 30_000), 'a batch carrying A/f started its rsync');
  renameSync(`${src.path}/A`, `${src.path}/B`);
  writeFileSync(`${held.ctl}/go`, '');

  const f = await flush(state.path, 'lci');
  assert.equal(f.code, 0, `flush: ${f.stdout}${f.stderr}`);
  assert.deepEqual(await converge(src.path, dst.path, 30_000), [], 'no difference left');
  assert.equal(readFileSync(`${dst.path}/B/f`, 'utf8'), 'new f, in flight when A was renamed\n');
  assert.equal(readFileSync(`${dst.path}/B/sub/g`, 'utf8'), 'new g\n');
  assert.equal(await daemon.stop(), 0);
});
