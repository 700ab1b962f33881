/**
 * Glue only: one side's view of a path or of a directory's entries (through the fsscan addon,
 * scan-native.ts), and the path forms the rest of verify uses. No decisions; typed results.
 *
 * Paths are "binary strings" (one char per byte, src/util/bpath.ts). The addon takes them as they are; for
 * node:fs (content reads), which encodes string paths as UTF-8, a path with a byte >= 0x80 is passed as a
 * Buffer of its exact bytes, and pure-ASCII paths (the common case) as strings.
 */
import { Buffer } from 'node:buffer';
import { scanDir, scanDirRaw, statPath, type DirRead, type EntryRead, type RawDirRead, type XattrRead } from './scan-native.ts';

export type { DirRead, EntryRead, RawDirRead, XattrRead };

const HIGH_BYTE = /[\x80-\xff]/;

/** What to hand to node:fs for a binary-string path. */
export function fsPath(absBinary: string): string | Buffer {
  return HIGH_BYTE.test(absBinary) ? Buffer.from(absBinary, 'latin1') : absBinary;
}

/** The root as a binary string: the UTF-8 bytes of the path typed on the command line. */
export function binaryRoot(root: string): string {
  return Buffer.from(root.replace(/\/+$/, '') || '/', 'utf8').toString('latin1');
}

/** Absolute binary path of `rel` under a binary root. */
export function under(rootBinary: string, rel: string): string {
  if (rel === '') return rootBinary;
  return rootBinary === '/' ? `/${rel}` : `${rootBinary}/${rel}`;
}

/** lstat + symlink target (+ xattrs when asked) of one path; a vanished path reads as absent. */
export function readEntry(absBinary: string, withXattrs: boolean): EntryRead {
  return statPath(absBinary, withXattrs);
}

/** Every entry of a directory with its lstat (+ xattrs when asked), by name. */
export function readDir(absBinary: string, withXattrs: boolean): DirRead {
  return scanDir(absBinary, withXattrs);
}

/** Every entry of a directory, undecoded (scan-native.ts RawDir), xattrs as `xattrs` asks. */
export function readDirRaw(absBinary: string, xattrs: XattrRead): RawDirRead {
  return scanDirRaw(absBinary, xattrs);
}

/** The xattrs of one path, for an entry whose xattrs a ctime floor left out; a vanished path reads ENOENT. */
export function readXattrs(absBinary: string): { xattrs?: Record<string, string>; xattrError?: string } {
  const read = statPath(absBinary, true);
  if (read.state === 'absent') return { xattrError: 'ENOENT' };
  if (read.state === 'error') return { xattrError: read.errno };
  return read.info.xattrError !== undefined ? { xattrError: read.info.xattrError } : read.info.xattrs ? { xattrs: read.info.xattrs } : {};
}
