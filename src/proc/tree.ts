/**
 * Tree identity and membership: a tree is a directory identified by (mount id, device, inode). Something a
 * process holds is in the tree when it is on the tree's mount and, unless the tree is that mount's root, its
 * path lies under the tree's path. Paths alone never decide: after a mount on top they still read the same.
 */
import { realpathSync } from 'node:fs';
import { readMountInfo } from '../sys/mount.ts';
import { statId } from '../sys/procfs.ts';
import { mntIdOf } from '../sys/procfs-fdinfo.ts';
import type { Tree } from './types.ts';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

export type TreeResult = { ok: true; tree: Tree } | { ok: false; reason: 'not-found' | 'not-a-directory'; message: string };

export function resolveTree(path: string): TreeResult {
  let real: string;
  try {
    real = realpathSync(Buffer.from(path, 'latin1'), { encoding: 'buffer' }).toString('latin1');
  } catch {
    return { ok: false, reason: 'not-found', message: `${path} does not exist` };
  }
  const id = statId(Buffer.from(real, 'latin1'));
  const mntId = mntIdOf(Buffer.from(real, 'latin1'));
  if (!id || mntId === undefined) return { ok: false, reason: 'not-found', message: `${path} vanished` };
  if ((id.mode & S_IFMT) !== S_IFDIR) return { ok: false, reason: 'not-a-directory', message: `${path} is not a directory` };
  const mount = readMountInfo().find((m) => m.mountId === mntId);
  return { ok: true, tree: { path: real, dev: id.dev, ino: id.ino, mntId, mountRoot: mount?.mountPoint === real } };
}

/** " (deleted)" suffix of /proc links to unlinked files; `nlink` (when known) confirms it. */
export function stripDeleted(link: string, nlink?: number): { path: string; deleted: boolean } {
  const suffix = ' (deleted)';
  if (link.endsWith(suffix) && (nlink === undefined || nlink === 0)) return { path: link.slice(0, -suffix.length), deleted: true };
  return { path: link, deleted: false };
}

/** The path relative to the tree root ('' = the root), or null when the path is not under the tree path. */
export function relOf(tree: Tree, path: string): string | null {
  if (path === tree.path) return '';
  if (tree.path === '/') return path.startsWith('/') ? path.slice(1) : null;
  return path.startsWith(`${tree.path}/`) ? path.slice(tree.path.length + 1) : null;
}

/** Membership by mount id; under the tree path too unless the tree is its mount's root. */
export function inTree(tree: Tree, mntId: number, path: string): boolean {
  if (mntId !== tree.mntId) return false;
  return tree.mountRoot || relOf(tree, path) !== null;
}

/** Absolute path (binary string) of `rel` under `root`. */
export function under(root: string, rel: string): string {
  if (rel === '') return root;
  return root === '/' ? `/${rel}` : `${root}/${rel}`;
}
