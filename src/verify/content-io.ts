/**
 * Glue only: compares two files' bytes, and hashes a file for the report. No decisions; typed results.
 *
 * Content is compared directly, chunk against chunk (memcmp), rather than hashing each side and comparing
 * digests: both sides are read on this machine anyway, so a hash would only add CPU (sha256 here runs at
 * ~2 GB/s per core, memcmp at > 10 GB/s) without changing what is read. The sha256 of both sides is computed
 * only for a file that differs, so the report can show two values. Files are opened O_NOATIME (a verify must
 * not touch the application's atimes) and O_NOFOLLOW (a path swapped for a symlink since the walk is an
 * error, not a file to follow).
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { errnoCode } from '../errors/errors.ts';

export type ContentResult =
  | { state: 'same'; bytes: number }
  /** offset: the first differing byte (or where the shorter side ended) */
  | { state: 'different'; bytes: number; offset: number }
  | { state: 'error'; side: 'source' | 'target'; errno: string };

const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW;

async function openQuietly(path: string | Buffer): Promise<FileHandle> {
  try {
    return await open(path, FLAGS | constants.O_NOATIME);
  } catch (err) {
    // O_NOATIME needs ownership or CAP_FOWNER; without them read normally.
    if (errnoCode(err) !== 'EPERM') throw err;
    return await open(path, FLAGS);
  }
}

/** Reads until `buf` is full or EOF; returns the bytes read. */
async function fill(fh: FileHandle, buf: Buffer, position: number): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/** A read failure tagged with its side. */
class SideError {
  readonly side: 'source' | 'target';
  readonly errno: string;
  constructor(side: 'source' | 'target', err: unknown) {
    this.side = side;
    this.errno = errnoCode(err) ?? 'EIO';
  }
}

function fillSide(side: 'source' | 'target', fh: FileHandle, buf: Buffer, position: number): Promise<number> {
  return fill(fh, buf, position).catch((err: unknown) => Promise.reject(new SideError(side, err)));
}

function firstDifference(a: Buffer, b: Buffer, n: number): number {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/**
 * Compares the two files' bytes using the two scratch buffers (same length). `onBytes` is called with each
 * chunk's size as it is compared.
 */
export async function compareFiles(
  source: string | Buffer,
  target: string | Buffer,
  scratch: readonly [Buffer, Buffer],
  onBytes: (bytes: number) => void,
): Promise<ContentResult> {
  let a: FileHandle | undefined;
  let b: FileHandle | undefined;
  try {
    try {
      a = await openQuietly(source);
    } catch (err) {
      return { state: 'error', side: 'source', errno: errnoCode(err) ?? 'EIO' };
    }
    try {
      b = await openQuietly(target);
    } catch (err) {
      return { state: 'error', side: 'target', errno: errnoCode(err) ?? 'EIO' };
    }
    const [bufA, bufB] = scratch;
    let position = 0;
    for (;;) {
      const [na, nb] = await Promise.all([fillSide('source', a, bufA, position), fillSide('target', b, bufB, position)]);
      const n = Math.min(na, nb);
      if (n > 0 && !bufA.subarray(0, n).equals(bufB.subarray(0, n))) {
        return { state: 'different', bytes: position + n, offset: position + firstDifference(bufA, bufB, n) };
      }
      position += n;
      onBytes(n);
      if (na !== nb) return { state: 'different', bytes: position, offset: position };
      if (na < bufA.length) return { state: 'same', bytes: position };
    }
  } catch (err) {
    if (err instanceof SideError) return { state: 'error', side: err.side, errno: err.errno };
    throw err;
  } finally {
    await a?.close();
    await b?.close();
  }
}

/** sha256 of a file's content as "sha256:<hex>", or the errno. */
export async function sha256Of(path: string | Buffer, scratch: Buffer): Promise<string> {
  let fh: FileHandle | undefined;
  try {
    fh = await openQuietly(path);
    const hash = createHash('sha256');
    let position = 0;
    for (;;) {
      const n = await fill(fh, scratch, position);
      if (n === 0) break;
      hash.update(scratch.subarray(0, n));
      position += n;
    }
    return `sha256:${hash.digest('hex')}`;
  } catch (err) {
    return `unreadable (${errnoCode(err) ?? 'EIO'})`;
  } finally {
    await fh?.close();
  }
}
