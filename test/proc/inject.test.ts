/**
 * What a re-point must preserve beyond "the fd now points at B": an open file description shared by two
 * processes stays one (shared offset), flock and POSIX locks are held again on the new file, inotify
 * watches and their epoll registration keep working, flags survive, a signal sent during the freeze is
 * delivered after it, and a thread blocked in read(2) carries on without EINTR.
 */
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ProcMover } from '../../src/proc/mover.ts';
import { readFdInfo, readLocks } from '../../src/sys/procfs-fdinfo.ts';
import { statId } from '../../src/sys/procfs.ts';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { FIXTURES, PYTHON, Procs, WRITER, ensureNative, until } from './procs.ts';

const skip = rootSkipReason();
const HOLDERS = join(FIXTURES, 'holders.py');

function stdoutOf(child: ChildProcess): () => string {
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  return () => out;
}

const read = (path: string): string => {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
};

test('re-point keeps shared offsets, locks, inotify+epoll, flags, pending signals and blocked reads', { skip }, async () => {
  ensureNative();
  using a = tmpfsDir('inj-a', '32m');
  using b = tmpfsDir('inj-b', '32m');
  const out = mkdtempSync(join(tmpdir(), 'livesync-inj-out-'));
  await using procs = new Procs();
  mkdirSync(join(a.path, 'watched'));
  for (const f of ['shared.dat', 'lockfile', 'flags.log']) writeFileSync(join(a.path, f), '');

  const share = procs.start(a.path, PYTHON, [HOLDERS, 'share', 'shared.dat'], { stdout: 'pipe' });
  const locks = procs.start(a.path, PYTHON, [HOLDERS, 'locks', 'lockfile'], { stdout: 'pipe' });
  const ino = procs.start(a.path, PYTHON, [HOLDERS, 'inotify', 'watched', join(out, 'created')], { stdout: 'pipe' });
  const sig = procs.start(a.path, PYTHON, [HOLDERS, 'signal', join(out, 'signals')], { stdout: 'pipe' });
  const flags = procs.start(a.path, PYTHON, [WRITER, 'hold', 'os.O_WRONLY|os.O_APPEND|os.O_NONBLOCK', 'flags.log'], { stdout: 'pipe' });
  const cat = procs.start(a.path, 'cat', [], { stdin: 'pipe', stdout: 'pipe' });
  const spin = procs.start(a.path, PYTHON, [HOLDERS, 'spin', 'flags.log'], { stdout: 'pipe' });
  const mdwe = procs.start(a.path, PYTHON, [HOLDERS, 'mdwe', 'flags.log'], { stdout: 'pipe' });
  const outs = [share, locks, ino, sig, flags, spin, mdwe].map(stdoutOf);
  const catOut = stdoutOf(cat);
  await until('holders ready', () => outs.every((o) => o() !== ''));
  const shareChild = Number(outs[0]!().trim().split(' ')[1]);
  const flagsFd = Number(outs[4]!().trim());
  const flagsBefore = readFdInfo(`/proc/${flags.pid}`, flagsFd)!.flags;

  spawnSync('cp', ['-a', `${a.path}/.`, `${b.path}/`]);
  await using mover = await ProcMover.open();
  const planned = await mover.plan(a.path);
  assert.ok(planned.ok);
  const frozen = await mover.freeze(planned.plan);
  assert.ok(frozen.ok, frozen.ok ? '' : frozen.message);
  process.kill(sig.pid!, 'SIGUSR1'); // arrives while frozen
  const moved = await mover.repoint(frozen.frozen, { toRoot: b.path });
  await mover.thaw(frozen.frozen);
  assert.deepEqual(moved.problems, []);
  assert.ok(moved.moved.locks >= 2, `locks taken again: ${JSON.stringify(moved.moved)}`);

  // one open file description, still shared by parent and child: their writes follow each other
  process.kill(share.pid!, 'SIGUSR1');
  await until('parent wrote', () => read(join(b.path, 'shared.dat')) === '0123456789P');
  process.kill(shareChild, 'SIGUSR2');
  await until('child wrote after it', () => read(join(b.path, 'shared.dat')) === '0123456789PC');
  assert.equal(read(join(a.path, 'shared.dat')), '0123456789');

  // locks are held on B's file by the same process, and no longer on A's
  const inoB = statId(join(b.path, 'lockfile'))!;
  const inoA = statId(join(a.path, 'lockfile'))!;
  const held = readLocks().filter((l) => l.pid === locks.pid);
  assert.deepEqual(held.filter((l) => l.ino === inoB.ino && l.dev === inoB.dev).map((l) => l.kind).sort(), ['FLOCK', 'POSIX']);
  assert.equal(held.filter((l) => l.ino === inoA.ino && l.dev === inoA.dev).length, 0);
  assert.equal(spawnSync('flock', ['-n', join(b.path, 'lockfile'), 'true']).status, 1, 'flock on B is taken');
  assert.equal(spawnSync('flock', ['-n', join(a.path, 'lockfile'), 'true']).status, 0, 'flock on A is free');

  // inotify: events come from B's directory, through the same epoll set; A's directory is no longer watched
  writeFileSync(join(a.path, 'watched', 'on-a'), '');
  writeFileSync(join(b.path, 'watched', 'on-b'), '');
  await until('inotify event from B', () => read(join(out, 'created')).includes('on-b'));
  assert.ok(!read(join(out, 'created')).includes('on-a'));

  // flags (O_APPEND|O_NONBLOCK, close-on-exec) unchanged, now on B
  assert.equal(readFdInfo(`/proc/${flags.pid}`, flagsFd)!.flags, flagsBefore);
  assert.equal(statSync(`/proc/${flags.pid}/fd/${flagsFd}`).ino, statSync(join(b.path, 'flags.log')).ino);

  // a process frozen in user space (syscall instruction taken from the vDSO) and one that refuses writable+
  // executable memory (no sequencer: one syscall at a time) are moved too
  for (const p of [spin, mdwe]) {
    assert.equal(readlinkSync(`/proc/${p.pid}/cwd`), b.path);
    assert.equal(readlinkSync(`/proc/${p.pid}/fd/3`), join(b.path, 'flags.log'));
  }

  // the signal sent during the freeze was delivered; cat's read(2) was restarted, not failed
  await until('signal delivered after the thaw', () => read(join(out, 'signals')).includes('10'));
  cat.stdin?.write('still here\n');
  await until('cat echoes', () => catOut().includes('still here'));
  rmSync(out, { recursive: true, force: true });
});
