/**
 * Glue only: loads native/build/fsscan.node (native/fsscan.c) and decodes its records into EntryReads.
 * No decisions beyond decoding (a vanished entry reads as absent); callers classify errnos.
 * Safe in worker threads (the addon is context-aware); each thread loads it once.
 *
 * Two ways to read a directory: scanDir decodes every record into an EntryInfo; scanDirRaw keeps the records
 * as the addon wrote them, indexed by name, with field readers and `sameRecordFields` (byte equality of the
 * compared fields), so a walk can decode only the entries it must look at closely.
 */
import { createRequire } from 'node:module';
import { constants, endianness } from 'node:os';
import { fileURLToPath } from 'node:url';
import { InternalError } from '../errors/errors.ts';
import type { EntryInfo, FileKind } from './types.ts';

/**
 * Which entries' xattrs the addon reads: all (true), none (false), or those whose ctime (ns since the epoch)
 * is at least the given value; the others are marked as not read (EntryInfo.xattrsNotRead).
 */
export type XattrRead = boolean | bigint;

interface ScanAddon {
  scanDir(dir: string, xattrs: XattrRead): Buffer | number;
  statPath(path: string, xattrs: XattrRead): Buffer | number;
}

export type EntryRead = { state: 'present'; info: EntryInfo } | { state: 'absent' } | { state: 'error'; errno: string };
export type DirRead = { ok: true; entries: Map<string, EntryRead> } | { ok: false; errno: string };
export type AddonLoad = { ok: true } | { ok: false; path: string; message: string };

export const ADDON_PATH = fileURLToPath(new URL('../../native/build/fsscan.node', import.meta.url));

let addon: ScanAddon | undefined;

export function loadScanAddon(): AddonLoad {
  if (addon) return { ok: true };
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as ScanAddon;
    return { ok: true };
  } catch (err) {
    return { ok: false, path: ADDON_PATH, message: err instanceof Error ? err.message : String(err) };
  }
}

function native(): ScanAddon {
  if (!addon) throw new InternalError('fsscan addon used before loadScanAddon');
  return addon;
}

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, num]) => [num, name]));
const errnoName = (negative: number): string => ERRNO_NAMES.get(-negative) ?? `errno ${-negative}`;

const S_IFMT = 0o170000;
/** st_mode type bits -> kind */
const KINDS = new Map<number, FileKind>([
  [0o100000, 'file'],
  [0o040000, 'dir'],
  [0o120000, 'symlink'],
  [0o010000, 'fifo'],
  [0o140000, 'socket'],
  [0o020000, 'char'],
  [0o060000, 'block'],
]);

/** Field offsets of a record (native/fsscan.c). */
const R = { bytes: 0, statErr: 4, mode: 8, uid: 12, gid: 16, nameLen: 20, size: 24, dev: 32, ino: 40, nlink: 48, rdev: 56, mtime: 64, ctime: 72, linkLen: 80, xattrBytes: 84, name: 88 } as const;
/** xattrBytes of an entry whose xattrs a ctime floor left out (native/fsscan.c XATTRS_NOT_READ). */
const XATTRS_NOT_READ = -2147483648;
/**
 * The 32-bit words `sameRecordFields` compares: mode (type and permissions), uid, gid, name length, size,
 * rdev, mtime, link length and xattr bytes. Not compared: statErr (checked apart), dev, ino, nlink, ctime.
 */
const SAME_WORDS: readonly number[] = [R.mode, R.uid, R.gid, R.nameLen, R.size, R.size + 4, R.rdev, R.rdev + 4, R.mtime, R.mtime + 4, R.linkLen, R.xattrBytes];

const LE = endianness() === 'LE';
const u32 = (b: Buffer, at: number): number => (LE ? b.readUInt32LE(at) : b.readUInt32BE(at));
const i32 = (b: Buffer, at: number): number => (LE ? b.readInt32LE(at) : b.readInt32BE(at));
const u64 = (b: Buffer, at: number): number => (LE ? u32(b, at) + u32(b, at + 4) * 2 ** 32 : u32(b, at + 4) + u32(b, at) * 2 ** 32);
const i64big = (b: Buffer, at: number): bigint => (LE ? b.readBigInt64LE(at) : b.readBigInt64BE(at));
const u64big = (b: Buffer, at: number): bigint => (LE ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at));

function decodeXattrs(b: Buffer, at: number, end: number): Record<string, string> {
  const values: Record<string, string> = {};
  while (at + 4 <= end) {
    const nameLen = u32(b, at);
    const name = b.toString('latin1', at + 4, at + 4 + nameLen);
    at += 4 + nameLen;
    const valueLen = u32(b, at);
    values[name] = b.toString('hex', at + 4, at + 4 + valueLen);
    at += 4 + valueLen;
  }
  return values;
}

/** Decodes the record at `at`; returns its name, its read and where the next record starts. */
function decode(b: Buffer, at: number): { name: string; read: EntryRead; next: number } {
  const bytes = u32(b, at + R.bytes);
  const nameLen = u32(b, at + R.nameLen);
  const name = b.toString('latin1', at + R.name, at + R.name + nameLen);
  const statErr = i32(b, at + R.statErr);
  if (statErr !== 0) {
    const errno = errnoName(statErr);
    return { name, read: errno === 'ENOENT' || errno === 'ENOTDIR' ? { state: 'absent' } : { state: 'error', errno }, next: at + bytes };
  }
  const mode = u32(b, at + R.mode);
  const ino = u64(b, at + R.ino);
  const info: EntryInfo = {
    kind: KINDS.get(mode & S_IFMT) ?? 'file',
    perm: mode & 0o7777,
    uid: u32(b, at + R.uid),
    gid: u32(b, at + R.gid),
    size: u64(b, at + R.size),
    mtimeNs: i64big(b, at + R.mtime),
    ctimeNs: i64big(b, at + R.ctime),
    inode: `${u64(b, at + R.dev)}:${Number.isSafeInteger(ino) ? ino : u64big(b, at + R.ino)}`,
    nlink: u64(b, at + R.nlink),
    rdev: u64(b, at + R.rdev),
  };
  const linkLen = i32(b, at + R.linkLen);
  const xattrBytes = i32(b, at + R.xattrBytes);
  let p = at + R.name + nameLen;
  if (linkLen < 0) info.linkError = errnoName(linkLen);
  else if (info.kind === 'symlink') info.link = b.toString('latin1', p, p + linkLen);
  p += Math.max(0, linkLen);
  if (xattrBytes === XATTRS_NOT_READ) info.xattrsNotRead = true;
  else if (xattrBytes < 0) info.xattrError = errnoName(xattrBytes);
  else if (xattrBytes > 0) info.xattrs = decodeXattrs(b, p, p + xattrBytes);
  return { name, read: { state: 'present', info }, next: at + bytes };
}

/** Every entry of a directory (binary-string path), by name. */
export function scanDir(absBinary: string, xattrs: XattrRead): DirRead {
  const answer = native().scanDir(absBinary, xattrs);
  if (typeof answer === 'number') return { ok: false, errno: errnoName(answer) };
  const entries = new Map<string, EntryRead>();
  for (let at = 0; at < answer.length; ) {
    const { name, read, next } = decode(answer, at);
    entries.set(name, read);
    at = next;
  }
  return { ok: true, entries };
}

/** One path (lstat semantics: a symlink is described, not followed). */
export function statPath(absBinary: string, xattrs: XattrRead): EntryRead {
  const answer = native().statPath(absBinary, xattrs);
  if (typeof answer === 'number') return { state: 'error', errno: errnoName(answer) };
  return decode(answer, 0).read;
}

/** A directory's records as the addon returned them, and where each name's record starts. */
export interface RawDir {
  buf: Buffer;
  /** name (binary string) -> record offset */
  at: Map<string, number>;
}

export type RawDirRead = { ok: true; dir: RawDir } | { ok: false; errno: string };

/** Every entry of a directory, undecoded (decode one with `decodeAt`). */
export function scanDirRaw(absBinary: string, xattrs: XattrRead): RawDirRead {
  const answer = native().scanDir(absBinary, xattrs);
  if (typeof answer === 'number') return { ok: false, errno: errnoName(answer) };
  return { ok: true, dir: indexRaw(answer) };
}

/** A scanDirRaw answer (e.g. one read ahead in another thread) indexed by name again. */
export function indexRaw(buf: Buffer): RawDir {
  const at = new Map<string, number>();
  for (let p = 0; p < buf.length; p += u32(buf, p + R.bytes)) at.set(buf.toString('latin1', p + R.name, p + R.name + u32(buf, p + R.nameLen)), p);
  return { buf, at };
}

/** The record at `at`, decoded. */
export function decodeAt(b: Buffer, at: number): EntryRead {
  return decode(b, at).read;
}

/** The record's kind, or null when its lstat failed (decode it for the errno). */
export function kindAt(b: Buffer, at: number): FileKind | null {
  return i32(b, at + R.statErr) !== 0 ? null : (KINDS.get(u32(b, at + R.mode) & S_IFMT) ?? 'file');
}

export function nlinkAt(b: Buffer, at: number): number {
  return u64(b, at + R.nlink);
}

/** st_dev of the record (a number, as in EntryInfo.inode's `${dev}:...`). */
export function devAt(b: Buffer, at: number): number {
  return u64(b, at + R.dev);
}

export function ctimeAt(b: Buffer, at: number): bigint {
  return i64big(b, at + R.ctime);
}

/**
 * True when both records were read without error (lstat, readlink, xattrs; xattrs left out on both sides
 * count as equal) and hold the same bytes in every field compareEntries looks at: type and permission bits,
 * uid, gid, size, rdev, mtime, symlink target, xattr names and values in listing order.
 */
export function sameRecordFields(a: Buffer, aAt: number, b: Buffer, bAt: number): boolean {
  if (i32(a, aAt + R.statErr) !== 0 || i32(b, bAt + R.statErr) !== 0) return false;
  for (const w of SAME_WORDS) if (u32(a, aAt + w) !== u32(b, bAt + w)) return false;
  const linkLen = i32(a, aAt + R.linkLen);
  const xattrBytes = i32(a, aAt + R.xattrBytes);
  if (linkLen < 0 || (xattrBytes < 0 && xattrBytes !== XATTRS_NOT_READ)) return false;
  const tail = linkLen + Math.max(0, xattrBytes);
  if (tail === 0) return true;
  const from = R.name + u32(a, aAt + R.nameLen);
  return a.compare(b, bAt + from, bAt + from + tail, aAt + from, aAt + from + tail) === 0;
}
