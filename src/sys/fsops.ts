/**
 * Glue only: the filesystem calls the engine makes on the source and target roots. Byte-exact paths
 * (Buffer), typed results, no decisions.
 */
import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { absBytes, type RelPath } from '../util/bpath.ts';
import { errnoCode } from '../errors/errors.ts';

export interface Identity {
  dev: number;
  ino: number;
}

/** Device and inode of a path (following symlinks), or the errno. */
export function identity(path: string): Identity | { errno: string } {
  try {
    const st = statSync(path);
    return { dev: st.dev, ino: st.ino };
  } catch (err) {
    return { errno: errnoCode(err) ?? 'EIO' };
  }
}

export function sameIdentity(a: Identity | { errno: string }, b: Identity): boolean {
  return 'dev' in a && a.dev === b.dev && a.ino === b.ino;
}

/** rename(2) of root/from to root/to; ok or the errno. Never creates parents. */
export function renameUnder(root: string, from: RelPath, to: RelPath): { ok: true } | { ok: false; errno: string } {
  try {
    renameSync(absBytes(root, from), absBytes(root, to));
    return { ok: true };
  } catch (err) {
    return { ok: false, errno: errnoCode(err) ?? 'EIO' };
  }
}

export function existsUnder(root: string, rel: RelPath): boolean {
  try {
    lstatSync(absBytes(root, rel));
    return true;
  } catch {
    return false;
  }
}

export function writeFileUnder(root: string, rel: RelPath, data: string): { ok: true } | { ok: false; errno: string } {
  try {
    writeFileSync(absBytes(root, rel), data);
    return { ok: true };
  } catch (err) {
    return { ok: false, errno: errnoCode(err) ?? 'EIO' };
  }
}

export function unlinkUnder(root: string, rel: RelPath): void {
  try {
    unlinkSync(absBytes(root, rel));
  } catch {
    // already gone
  }
}

export function ensureDir(path: string, mode: number): void {
  mkdirSync(path, { recursive: true, mode });
}

export function writeFileAtomic(path: string, data: string | Buffer): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}

export function removePath(path: string): void {
  rmSync(path, { force: true, recursive: true });
}

/**
 * Entries in the directory root/rel, itself included, counted down the tree without following symlinks, up to
 * `cap` (the walk stops there). Unreadable directories count as themselves.
 */
export function countEntriesUnder(root: string, rel: RelPath, cap: number): number {
  let count = 0;
  const stack: Buffer[] = [absBytes(root, rel)];
  while (stack.length > 0 && count < cap) {
    const dir = stack.pop()!;
    count++;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true, encoding: 'buffer' });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (e.isDirectory()) stack.push(Buffer.concat([dir, Buffer.from('/'), e.name]));
      else count++;
    }
  }
  return Math.min(count, cap);
}

/** Names in a directory as binary strings; [] when it cannot be read. */
export function listRoot(dir: string): string[] {
  try {
    return readdirSync(dir, { encoding: 'buffer' }).map((b) => b.toString('latin1'));
  } catch {
    return [];
  }
}

/**
 * Every regular file or symlink with more than one link under `root` (or under the given subtrees of it), one
 * filesystem, as {dev, ino, path relative to root}, from GNU find (C speed; livesync only parses).
 */
export async function multiLinkFiles(root: string, under: readonly RelPath[] = [''], inodes: readonly number[] = []): Promise<Array<{ dev: number; ino: number; path: RelPath }>> {
  const { run } = await import('./exec.ts');
  const rootText = Buffer.from(root, 'utf8').toString('latin1');
  const starts = under.map((rel) => (rel === '' ? rootText : `${rootText}/${rel}`));
  // argv is UTF-8 text: a start path with bytes that are not UTF-8 cannot be passed; search its root instead
  const encodable = starts.every((s) => Buffer.from(Buffer.from(s, 'latin1').toString('utf8'), 'utf8').equals(Buffer.from(s, 'latin1')));
  const args = (encodable ? starts : [rootText]).map((s) => Buffer.from(s, 'latin1').toString('utf8'));
  const inum = inodes.length === 0 ? [] : ['(', ...inodes.flatMap((ino, i) => [...(i > 0 ? ['-o'] : []), '-inum', String(ino)]), ')'];
  const res = await run('find', [...args, '-xdev', '(', '-type', 'f', '-o', '-type', 'l', ')', '-links', '+1', ...inum, '-printf', '%D %i %p\\0'], { encoding: 'latin1' });
  const prefix = `${rootText}/`;
  return res.stdout
    .split('\0')
    .filter((r) => r !== '')
    .map((r) => {
      const a = r.indexOf(' ');
      const b = r.indexOf(' ', a + 1);
      const full = r.slice(b + 1);
      return { dev: Number(r.slice(0, a)), ino: Number(r.slice(a + 1, b)), path: full.startsWith(prefix) ? full.slice(prefix.length) : full };
    })
    .filter((f) => !f.path.startsWith('/'));
}

export function isRegularFile(root: string, rel: RelPath): boolean {
  try {
    return lstatSync(absBytes(root, rel)).isFile();
  } catch {
    return false;
  }
}
