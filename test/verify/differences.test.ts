/**
 * verifyTrees finds each kind of difference, on real trees copied exactly with rsync and then altered one way:
 * content (same size, same mtime), mode, owner, mtime, missing, extra, symlink target, hard link split, xattr,
 * ACL, type. Each test also checks that the untouched copy was identical first (no false positive).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, linkSync, mkdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { rootSkipReason } from '../helpers/ns.ts';
import { copyTree, kinds, sameTimeAs, verify, workspace } from './helpers.ts';

/** A small tree with one of each kind of entry, copied; returns the workspace after checking the copy. */
async function copied(prefix: string): Promise<ReturnType<typeof workspace>> {
  const ws = workspace(prefix);
  mkdirSync(join(ws.src, 'dir/sub'), { recursive: true });
  writeFileSync(join(ws.src, 'dir/file.txt'), 'same size text\n');
  writeFileSync(join(ws.src, 'dir/sub/deep.bin'), Buffer.alloc(300_000, 7));
  writeFileSync(join(ws.src, 'a-link-source'), 'linked\n');
  linkSync(join(ws.src, 'a-link-source'), join(ws.src, 'dir/hard'));
  symlinkSync('dir/file.txt', join(ws.src, 'sym'));
  execFileSync('mkfifo', [join(ws.src, 'fifo')]);
  copyTree(ws.src, ws.dst);
  const clean = await verify(ws.src, ws.dst, { checksum: true });
  assert.deepEqual(kinds(clean), [], 'the exact copy must be identical');
  assert.equal(clean.identical, true);
  assert.deepEqual(clean.compared, { files: 4, dirs: 3, symlinks: 1, other: 1, bytesHashed: 15 + 300_000 + 7 + 7 });
  return ws;
}

test('content: same size, same mtime — seen only by content (--checksum, --sample 100, paths)', async () => {
  using ws = await copied('content');
  const victim = join(ws.dst, 'dir/file.txt');
  writeFileSync(victim, 'SAME size text\n');
  sameTimeAs(victim, join(ws.src, 'dir/file.txt'));
  assert.deepEqual(kinds(await verify(ws.src, ws.dst)), [], 'metadata alone cannot see it');
  for (const options of [{ checksum: true }, { samplePercent: 100 }, { paths: ['dir/file.txt', 'dir/sub/deep.bin'] }]) {
    const report = await verify(ws.src, ws.dst, options);
    assert.deepEqual(kinds(report), ['content dir/file.txt'], JSON.stringify(options));
    const [d] = report.differences;
    assert.match(d?.source ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.match(d?.target ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.notEqual(d?.source, d?.target);
    assert.equal(d?.detail, 'first difference at byte 0');
  }
});

test('mode', async () => {
  using ws = await copied('mode');
  chmodSync(join(ws.dst, 'dir/file.txt'), 0o600);
  chmodSync(join(ws.dst, 'dir/sub'), 0o2750);
  const report = await verify(ws.src, ws.dst);
  assert.deepEqual(kinds(report), ['mode dir/file.txt', 'mode dir/sub']);
  assert.deepEqual(report.differences.map((d) => [d.source, d.target]), [['0644', '0600'], ['0755', '02750']]);
});

test('owner (uid:gid)', { skip: process.getuid?.() === 0 ? false : 'chown needs root' }, async () => {
  using ws = await copied('owner');
  chownSync(join(ws.dst, 'dir/file.txt'), 1234, 5678);
  const report = await verify(ws.src, ws.dst);
  assert.deepEqual(kinds(report), ['owner dir/file.txt']);
  assert.equal(report.differences[0]?.target, '1234:5678');
});

test('mtime, to the nanosecond; an operator precision of 1 s hides a sub-second difference', async () => {
  using ws = await copied('mtime');
  const victim = join(ws.dst, 'dir/file.txt');
  execFileSync('touch', ['-m', '-d', '@1700000000.123456789', join(ws.src, 'dir/file.txt')]);
  execFileSync('touch', ['-m', '-d', '@1700000000.123456788', victim]);
  const report = await verify(ws.src, ws.dst);
  assert.deepEqual(kinds(report), ['mtime dir/file.txt']);
  assert.deepEqual([report.differences[0]?.source, report.differences[0]?.target], ['2023-11-14T22:13:20.123456789Z', '2023-11-14T22:13:20.123456788Z']);
  assert.equal(report.mtimePrecisionNs.compared, 1);
  assert.deepEqual(kinds(await verify(ws.src, ws.dst, { mtimePrecisionNs: 1_000_000_000 })), []);
});

test('missing: a file, and a directory reported once (not its contents)', async () => {
  using ws = await copied('missing');
  unlinkSync(join(ws.dst, 'dir/file.txt'));
  rmSync(join(ws.dst, 'dir/sub'), { recursive: true });
  sameTimeAs(join(ws.dst, 'dir'), join(ws.src, 'dir'));
  const report = await verify(ws.src, ws.dst);
  assert.deepEqual(kinds(report), ['missing dir/file.txt', 'missing dir/sub']);
  assert.deepEqual(report.differences.map((d) => [d.source, d.target]), [['file', null], ['dir', null]]);
});

test('extra', async () => {
  using ws = await copied('extra');
  writeFileSync(join(ws.dst, 'dir/stray'), 'x');
  sameTimeAs(join(ws.dst, 'dir'), join(ws.src, 'dir'));
  const report = await verify(ws.src, ws.dst);
  assert.deepEqual(kinds(report), ['extra dir/stray']);
  assert.deepEqual([report.differences[0]?.source, report.differences[0]?.target], [null, 'file']);
});

test('type: a file where a directory was', async () => {
  using ws = await copied('type');
  rmSync(join(ws.dst, 'dir/sub'), { recursive: true });
  writeFileSync(join(ws.dst, 'dir/sub'), 'now a file');
  sameTimeAs(join(ws.dst, 'dir'), join(ws.src, 'dir'));
  assert.deepEqual(kinds(await verify(ws.src, ws.dst)), ['type dir/sub']);
});

test('symlink target', async () => {
  using ws = await copied('symlink');
  unlinkSync(join(ws.dst, 'sym'));
  symlinkSync('dir/elsewhere', join(ws.dst, 'sym'));
  sameTimeAs(join(ws.dst, 'sym'), join(ws.src, 'sym'));
  sameTimeAs(ws.dst, ws.src);
  const report = await verify(ws.src, ws.dst);
  assert.deepEqual(kinds(report), ['symlink sym']);
  assert.deepEqual([report.differences[0]?.source, report.differences[0]?.target], ['dir/file.txt', 'dir/elsewhere']);
});

test('hard link split: two names of one inode became two inodes (and the reverse)', async () => {
  using ws = await copied('hardlink');
  const hard = join(ws.dst, 'dir/hard');
  copyFileSync(hard, `${hard}.tmp`);
  execFileSync('touch', ['-r', hard, `${hard}.tmp`]);
  unlinkSync(hard);
  execFileSync('mv', ['--', `${hard}.tmp`, hard]);
  sameTimeAs(join(ws.dst, 'dir'), join(ws.src, 'dir'));
  const report = await verify(ws.src, ws.dst);
  assert.deepEqual(kinds(report), ['hardlink a-link-source', 'hardlink dir/hard']);
  assert.deepEqual([report.differences[0]?.source, report.differences[0]?.target], ['linked with dir/hard', 'own inode']);

  // The reverse: two inodes on the source joined into one on the target.
  writeFileSync(join(ws.src, 'p'), 'twin\n');
  copyFileSync(join(ws.src, 'p'), join(ws.src, 'q'));
  execFileSync('touch', ['-r', join(ws.src, 'p'), join(ws.src, 'q')]);
  copyTree(ws.src, ws.dst);
  unlinkSync(join(ws.dst, 'q'));
  linkSync(join(ws.dst, 'p'), join(ws.dst, 'q'));
  sameTimeAs(ws.dst, ws.src);
  const joined = await verify(ws.src, ws.dst, { checksum: true });
  assert.deepEqual(kinds(joined), ['hardlink p', 'hardlink q']);
  assert.deepEqual([joined.differences[0]?.source, joined.differences[0]?.target], ['own inode', 'linked with q']);
});

test('xattr and ACL (system.posix_acl_access is an xattr)', async () => {
  using ws = await copied('xattr');
  execFileSync('setfattr', ['-n', 'user.note', '-v', 'copied', join(ws.src, 'dir/file.txt')]);
  execFileSync('setfacl', ['-m', 'u:4321:r', join(ws.src, 'dir/sub/deep.bin')]);
  copyTree(ws.src, ws.dst);
  assert.deepEqual(kinds(await verify(ws.src, ws.dst)), [], 'xattrs and ACLs copied by rsync -AX are identical');
  execFileSync('setfattr', ['-n', 'user.note', '-v', 'changed', join(ws.dst, 'dir/file.txt')]);
  execFileSync('setfattr', ['-n', 'user.extra', '-v', '1', join(ws.dst, 'dir')]);
  execFileSync('setfacl', ['-m', 'u:4322:r', join(ws.dst, 'dir/sub/deep.bin')]);
  const report = await verify(ws.src, ws.dst);
  assert.deepEqual(kinds(report), ['xattr dir', 'xattr dir/file.txt', 'xattr dir/sub/deep.bin']);
  const [dirX, fileX, acl] = report.differences;
  assert.deepEqual([dirX?.source, dirX?.target], [null, 'user.extra=0x31']);
  assert.deepEqual([fileX?.source, fileX?.target], [`user.note=0x${Buffer.from('copied').toString('hex')}`, `user.note=0x${Buffer.from('changed').toString('hex')}`]);
  assert.match(acl?.source ?? '', /^system\.posix_acl_access=0x/);
  assert.equal(await verify(ws.src, ws.dst, { xattrs: false }).then((r) => r.identical), true, 'not compared with xattrs: false');
});

test('one filesystem: a filesystem mounted inside the source is compared as a mount point, not walked', { skip: rootSkipReason() ?? false }, async () => {
  using ws = workspace('onefs');
  mkdirSync(join(ws.src, 'mnt'));
  writeFileSync(join(ws.src, 'kept'), 'x');
  copyTree(ws.src, ws.dst);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'tmpfs', join(ws.src, 'mnt')]);
  try {
    writeFileSync(join(ws.src, 'mnt/not-mirrored'), 'x');
    sameTimeAs(join(ws.src, 'mnt'), join(ws.dst, 'mnt'));
    assert.deepEqual(kinds(await verify(ws.src, ws.dst)), ['missing mnt/not-mirrored']);
    assert.deepEqual(kinds(await verify(ws.src, ws.dst, { oneFileSystem: true })), []);
  } finally {
    execFileSync('umount', [join(ws.src, 'mnt')]);
  }
});
