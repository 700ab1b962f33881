/**
 * `livesync ps PATH --json`: what each kind of holder looks like and the verdict it gets, from real
 * processes holding a tmpfs: files with their flags and offsets, O_PATH and directory fds, a deleted file,
 * a FIFO, a bound unix socket, mappings, an executable in the tree, a chroot, a stopped and a traced
 * process. livesync itself is never listed.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI } from '../helpers/daemon.ts';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { PYTHON, Procs, WRITER, ensureNative, until } from './procs.ts';

const skip = rootSkipReason();

interface JsonItem {
  verdict: string;
  reason: string;
  action: string | null;
  item: { kind: string; fd?: number; rel?: string; flags?: number; pos?: number; type?: string; tids?: number[] };
}
interface JsonProc {
  pid: number;
  verdict: string;
  blockers: Array<{ reason: string }>;
  items: JsonItem[];
}

async function ps(procs: Procs, path: string): Promise<{ cli: number; processes: JsonProc[] }> {
  const child = procs.start(path, CLI, ['ps', path, '--json'], { stdout: 'pipe' });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.equal(code, 0, out);
  return { cli: child.pid!, processes: (JSON.parse(out) as { processes: JsonProc[] }).processes };
}

const py = (code: string): string[] => ['-c', `import os, time, signal, socket, mmap\nsignal.signal(signal.SIGTERM, lambda *_: os._exit(0))\n${code}\nwhile True: time.sleep(1)`];

test('ps lists every kind of holder with its verdict', { skip }, async () => {
  ensureNative();
  using t = tmpfsDir('ps', '32m');
  await using procs = new Procs();
  const root = t.path;
  for (const d of ['sub', 'jail', 'bin']) mkdirSync(join(root, d));
  writeFileSync(join(root, 'data'), '0123456789');
  writeFileSync(join(root, 'gone'), 'x');
  copyFileSync('/bin/sleep', join(root, 'bin', 'sleep'));

  const files = procs.start(join(root, 'sub'), PYTHON, [WRITER, 'hold', 'os.O_WRONLY|os.O_APPEND', '../data'], { stdout: 'pipe' });
  const reader = procs.start('/', PYTHON, py(`f = os.open('${root}/data', os.O_RDONLY|os.O_NONBLOCK); os.read(f, 4); d = os.open('${root}/sub', os.O_RDONLY|os.O_DIRECTORY); p = os.open('${root}/data', os.O_PATH)`));
  const deleted = procs.start('/', PYTHON, py(`f = os.open('${root}/gone', os.O_RDONLY); os.unlink('${root}/gone')`));
  const fifo = procs.start(root, PYTHON, py(`os.mkfifo('pipe'); f = os.open('pipe', os.O_RDWR)`));
  const sock = procs.start(root, PYTHON, py(`s = socket.socket(socket.AF_UNIX); s.bind('${root}/s.sock'); s.listen()`));
  const priv = procs.start('/', PYTHON, py(`f = open('${root}/data', 'rb'); m = mmap.mmap(f.fileno(), 10, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ); f.close()`));
  const exe = procs.start('/', join(root, 'bin', 'sleep'), ['1000']);
  const jail = procs.start(root, PYTHON, py(`os.chroot('jail'); os.chdir('/')`));
  const stopped = procs.start(join(root, 'sub'), 'sleep', ['1000']);
  const traced = procs.start(join(root, 'sub'), 'sleep', ['1000']);
  const tracer = procs.start('/', PYTHON, py(`import ctypes; assert ctypes.CDLL(None).ptrace(0x4206, ${traced.pid}, 0, 0) == 0`));
  const has = (pid: number | undefined, file: string, what: string): boolean => read(`/proc/${pid}/${file}`).includes(what);
  await until('fixtures ready', () =>
    exists(join(root, 's.sock')) &&
    exists(join(root, 'pipe')) &&
    !exists(join(root, 'gone')) &&
    has(priv.pid, 'maps', `${root}/data`) &&
    has(reader.pid, 'maps', 'python') &&
    readLinkOr(`/proc/${jail.pid}/root`) !== '/' &&
    readLinkOr(`/proc/${reader.pid}/fd/5`) !== '' &&
    readLinkOr(`/proc/${files.pid}/fd/3`) !== '',
  );
  process.kill(stopped.pid!, 'SIGSTOP');
  await until('tracer attached', () => /TracerPid:\s*[1-9]/.test(read(`/proc/${traced.pid}/status`)));

  const { cli, processes } = await ps(procs, root);
  const byPid = (pid: number | undefined): JsonProc => {
    const p = processes.find((x) => x.pid === pid);
    assert.ok(p, `pid ${pid} listed`);
    return p;
  };
  const item = (p: JsonProc, pred: (i: JsonItem) => boolean): JsonItem => {
    const found = p.items.find(pred);
    assert.ok(found, `pid ${p.pid}: item not found in ${JSON.stringify(p.items.map((i) => i.reason))}`);
    return found;
  };
  assert.ok(!processes.some((p) => p.pid === cli), 'livesync itself is not listed');

  const f = byPid(files.pid);
  assert.equal(f.verdict, 'movable');
  assert.equal(item(f, (i) => i.item.kind === 'cwd').item.rel, 'sub');
  const wfd = item(f, (i) => i.item.kind === 'fd' && i.item.rel === 'data');
  assert.equal((wfd.item.flags ?? 0) & 0o2003, 0o2001, 'O_WRONLY|O_APPEND');
  assert.equal(wfd.action, 'reopen');

  const r = byPid(reader.pid);
  assert.equal(r.verdict, 'movable');
  const rfd = item(r, (i) => i.item.type === 'file' && ((i.item.flags ?? 0) & 0o10000000) === 0);
  assert.equal(rfd.item.pos, 4);
  assert.ok((rfd.item.flags ?? 0) & 0o4000, 'O_NONBLOCK');
  assert.equal(item(r, (i) => i.item.type === 'dir').action, 'reopen-dir');
  assert.equal(item(r, (i) => ((i.item.flags ?? 0) & 0o10000000) !== 0).action, 'reopen');

  assert.equal(byPid(deleted.pid).verdict, 'stays');
  assert.equal(item(byPid(deleted.pid), (i) => i.item.kind === 'fd').reason, 'file-deleted');
  assert.equal(item(byPid(fifo.pid), (i) => i.item.type === 'fifo').reason, 'fifo');
  assert.equal(byPid(sock.pid).verdict, 'blocker');
  assert.ok(byPid(sock.pid).blockers.some((b) => b.reason === 'socket-bound'));
  // (python's mmap keeps a dup of the fd: that one is movable, the private mapping itself stays)
  assert.equal(item(byPid(priv.pid), (i) => i.item.kind === 'map').reason, 'map');
  assert.equal(byPid(exe.pid).verdict, 'stays');
  assert.equal(item(byPid(exe.pid), (i) => i.item.kind === 'exe').reason, 'exe');
  assert.ok(byPid(jail.pid).blockers.some((b) => b.reason === 'root-in-tree'));
  assert.ok(byPid(stopped.pid).blockers.some((b) => b.reason === 'stopped'));
  assert.ok(byPid(traced.pid).blockers.some((b) => b.reason === 'already-traced'));
  process.kill(stopped.pid!, 'SIGCONT');
  tracer.kill('SIGKILL');
});

function exists(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false }) !== undefined;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
}

function readLinkOr(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}
