/**
 * Glue only: the few filesystem reads the seed plans with (src/sync/seed.ts): one directory level with entry
 * types and devices, "is this directory empty", and statfs counters for the progress estimate. Byte-exact
 * paths (Buffer), typed results, no decisions.
 */
import { lstatSync, opendirSync, readdirSync, statSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { absBytes, fromBytes, join, type RelPath } from '../util/bpath.ts';

export interface PeekEntry {
  name: RelPath;
  isDir: boolean;
  /** false for a directory another filesystem is mounted on (rsync -x must not enter it) */
  sameFs: boolean;
}

/**
 * Entries of root/rel (one level). Directories are lstat'ed for their device (a mount point's dev differs);
 * other entries are not. null when the directory cannot be read (vanished, no permission).
 */
export function peekDir(root: string, rel: RelPath, rootDev: number): PeekEntry[] | null {
  try {
    return readdirSync(absBytes(root, rel), { withFileTypes: true, encoding: 'buffer' }).map((d) => {
      const name = fromBytes(d.name);
      if (!d.isDirectory()) return { name, isDir: false, sameFs: true };
      try {
        return { name, isDir: true, sameFs: lstatSync(absBytes(root, join(rel, name))).dev === rootDev };
      } catch {
        return { name, isDir: false, sameFs: true }; // gone or replaced meanwhile: rsync sees what is there
      }
    });
  } catch {
    return null;
  }
}

/** Device of a path (following symlinks), or null. */
export function deviceOf(path: string): number | null {
  try {
    return statSync(path).dev;
  } catch {
    return null;
  }
}

/** True when `path` is a directory with no entries at all. */
export function isEmptyDir(path: string): boolean {
  try {
    const dir = opendirSync(path);
    try {
      return dir.readSync() === null;
    } finally {
      dir.closeSync();
    }
  } catch {
    return false;
  }
}

/** True when `path` is the root of its filesystem (its parent lives on another device), or '/'. */
export function isMountRoot(path: string): boolean {
  const parent = dirname(path);
  if (parent === path) return true;
  const a = deviceOf(path);
  const b = deviceOf(parent);
  return a !== null && b !== null && a !== b;
}

export interface FsUsage {
  /** inodes in use (0 when the filesystem does not count inodes) */
  inodesUsed: number;
  /** whether the filesystem reports inode counts at all (f_files > 0) */
  countsInodes: boolean;
  bytesUsed: number;
}

/** statfs counters of the filesystem holding `path`, or null. */
export function fsUsage(path: string): FsUsage | null {
  try {
    const s = statfsSync(path);
    return { inodesUsed: s.files - s.ffree, countsInodes: s.files > 0, bytesUsed: (s.blocks - s.bfree) * s.bsize };
  } catch {
    return null;
  }
}
