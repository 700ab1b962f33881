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
 * 4. A hard link made into a new directory, in a batch whose recursive entries include a name that is not
 *    UTF-8: the `find` for multi-link files under the recursive entries searched the whole tree instead (a start
 *    path must be UTF-8 text), so the old name counted as part of the recursive run although it was not in it;
 *    the new link landed as a copy, no search was started, and a write through the new name never reached the
 *    old one. Churn: `hf ... f6605/.../inv\#377\#376.bin-7799/f7800/f7832 => .../f5452/f6245` with
 *    `>fc.t...... .../f5452/f6245` (src/engine/batch.ts addDeepSiblings).
 * 5. A write through one hard-link name, then a directory above that name deleted: the name's own marks were
 *    absorbed by the directory's recursive entry, so it never reached the hard-link index and its siblings were
 *    not synced. Worse when a sibling's directory had been renamed (the index knew it under its old path only).
 *    Or when the written name's own directory had been renamed: the index knew it under its old path, not under
 *    the deleted directory. Churn SEED=1034: `>fc.t...... f3630/f5307/f5308/f5309/f6103/f6011`
 *    (src/engine/batch.ts vanishedSiblings; src/engine/hardlinks.ts follows reported renames, and a stale
 *    sibling with no known survivor starts a search).
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

test('a hard link made into a new directory, batched with a new directory whose name is not UTF-8, lands as a link', { skip, timeout: 120_000 }, async () => {
  using src = tmpfsDir('lcl-src');
  using dst = tmpfsDir('lcl-dst');
  using state = tmpfsDir('lcl-state', '16m', '700');
  const at = (...names: Array<string | Buffer>): Buffer => Buffer.concat([Buffer.from(src.path), ...names.flatMap((n) => [Buffer.from('/'), Buffer.from(n)])]);
  const notUtf8 = (tag: string): Buffer => Buffer.concat([Buffer.from('inv'), Buffer.from([0xff, 0xfe]), Buffer.from(tag)]);
  writeFileSync(at('x'), 'old x\n');
  await using daemon = new Daemon([src.path, dst.path, '--state-dir', state.path, '--name', 'lcl', '--no-heartbeat']);
  await daemon.waitState('in-sync', 60_000);
  assert.deepEqual(await converge(src.path, dst.path, 30_000), [], 'seeded');

  // round 1: no multi-link file known yet (the find runs beside the recursive run, and a search finds `x`);
  // round 2: `x` and new1/y are known (the find runs first and they join the recursive run)
  for (const round of ['1', '2']) {
    burst(daemon, () => {
      mkdirSync(at(`new${round}`));
      linkSync(at('x'), at(`new${round}`, 'y'));
      writeFileSync(at(`new${round}`, 'y'), `written through new${round}/y\n`);
      mkdirSync(at(notUtf8(round)));
      writeFileSync(at(notUtf8(round), 'f'), 'f\n');
    });
    const f = await flush(state.path, 'lcl');
    assert.equal(f.code, 0, `flush: ${f.stdout}${f.stderr}`);
    // the flush waits for the hard-link search and the batch that links: right at the first look
    assert.equal(readFileSync(`${dst.path}/x`, 'utf8'), `written through new${round}/y\n`, `round ${round}: the write through the new link reached x`);
    assert.equal(statSync(`${dst.path}/new${round}/y`).ino, statSync(`${dst.path}/x`).ino, `round ${round}: linked on the target`);
    assert.deepEqual(await converge(src.path, dst.path, 30_000), [], `round ${round}: no difference left`);
  }
  // the relink pass (src/engine/relink.ts) repairs what the batches got wrong: here they got nothing wrong
  assert.deepEqual(daemon.records.filter((r) => r['code'] === 'W_RELINK').map((r) => r.msg), []);
  assert.equal(await daemon.stop(), 0);
});

test('a write through a hard link whose directory is then deleted reaches the other names, also one whose directory was renamed', { skip, timeout: 120_000 }, async () => {
  using src = tmpfsDir('lcv-src');
  using dst = tmpfsDir('lcv-dst');
  using state = tmpfsDir('lcv-state', '16m', '700');
  mkdirSync(`${src.path}/gone/sub`, { recursive: true });
  mkdirSync(`${src.path}/was/sub`, { recursive: true });
  mkdirSync(`${src.path}/keep`);
  mkdirSync(`${src.path}/moved`);
  for (const n of ['1', '2']) {
    writeFileSync(`${src.path}/gone/sub/a${n}`, `old ${n}\n`);
    linkSync(`${src.path}/gone/sub/a${n}`, `${src.path}/${n === '1' ? 'keep' : 'moved'}/b${n}`);
  }
  writeFileSync(`${src.path}/was/sub/a3`, 'old 3\n');
  linkSync(`${src.path}/was/sub/a3`, `${src.path}/keep/b3`);
  await using daemon = new Daemon([src.path, dst.path, '--state-dir', state.path, '--name', 'lcv', '--no-heartbeat']);
  await daemon.waitState('in-sync', 60_000);
  assert.deepEqual(await converge(src.path, dst.path, 30_000), [], 'seeded');

  burst(daemon, () => {
    renameSync(`${src.path}/moved`, `${src.path}/renamed`); // b2's known path goes stale
    writeFileSync(`${src.path}/gone/sub/a1`, 'written through a1 before its directory went\n');
    writeFileSync(`${src.path}/gone/sub/a2`, 'written through a2 before its directory went\n');
    rmSync(`${src.path}/gone`, { recursive: true });
    // a3's directory renamed, a3 written at its new path, then that directory deleted (churn SEED=1034)
    renameSync(`${src.path}/was`, `${src.path}/then`);
    writeFileSync(`${src.path}/then/sub/a3`, 'written through a3 before its directory went\n');
    rmSync(`${src.path}/then`, { recursive: true });
  });

  const f = await flush(state.path, 'lcv');
  assert.equal(f.code, 0, `flush: ${f.stdout}${f.stderr}`);
  assert.equal(readFileSync(`${dst.path}/keep/b1`, 'utf8'), 'written through a1 before its directory went\n');
  assert.equal(readFileSync(`${dst.path}/renamed/b2`, 'utf8'), 'written through a2 before its directory went\n');
  assert.equal(readFileSync(`${dst.path}/keep/b3`, 'utf8'), 'written through a3 before its directory went\n');
  assert.deepEqual(await converge(src.path, dst.path, 30_000), [], 'no difference left');
  assert.equal(await daemon.stop(), 0);
});
