/**
 * Glue only: loads native/build/xattr.node (native/xattr.c) and turns its packed answer into a name -> hex
 * value record. No decisions beyond decoding; callers classify errnos (policy.ts XATTR_NONE_ERRNOS).
 * Safe to load in worker threads (the addon is context-aware).
 */
import { createRequire } from 'node:module';
import { constants, endianness } from 'node:os';
import { fileURLToPath } from 'node:url';
import { InternalError } from '../errors/errors.ts';

interface XattrAddon {
  readAll(path: string): Buffer | number | null;
}

export type XattrRead = { ok: true; values: Record<string, string> | undefined } | { ok: false; errno: string };

export const ADDON_PATH = fileURLToPath(new URL('../../native/build/xattr.node', import.meta.url));

let addon: XattrAddon | undefined;

export type AddonLoad = { ok: true } | { ok: false; reason: 'not-built'; path: string; message: string };

/** Loads the addon once per thread. */
export function loadXattrAddon(): AddonLoad {
  if (addon) return { ok: true };
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as XattrAddon;
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: 'not-built', path: ADDON_PATH, message: err instanceof Error ? err.message : String(err) };
  }
}

const LITTLE_ENDIAN = endianness() === 'LE';
const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, num]) => [num, name]));

function u32(buf: Buffer, at: number): number {
  return LITTLE_ENDIAN ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
}

/**
 * Extended attributes of `absBinary` (a binary string: one char per byte), not following symlinks.
 * `values` is undefined when there are none.
 */
export function readXattrs(absBinary: string): XattrRead {
  if (!addon) throw new InternalError('readXattrs before loadXattrAddon');
  const answer = addon.readAll(absBinary);
  if (answer === null) return { ok: true, values: undefined };
  if (typeof answer === 'number') return { ok: false, errno: ERRNO_NAMES.get(-answer) ?? `errno ${-answer}` };
  const values: Record<string, string> = {};
  let at = 0;
  while (at + 4 <= answer.length) {
    const nameLen = u32(answer, at);
    const name = answer.toString('latin1', at + 4, at + 4 + nameLen);
    at += 4 + nameLen;
    const valueLen = u32(answer, at);
    values[name] = answer.toString('hex', at + 4, at + 4 + valueLen);
    at += 4 + valueLen;
  }
  return { ok: true, values };
}
