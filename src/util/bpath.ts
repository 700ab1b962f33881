/**
 * Binary-safe paths. Linux file names are bytes, not text: they may hold newlines, leading dashes or invalid
 * UTF-8. Inside livesync every path relative to a tree root is a "binary string": one JS char per byte
 * (latin1), so it is lossless, usable as a Map key, and converts back to the exact bytes with `toBytes`.
 * The root itself is the empty string; components are joined with '/'. Never decode these as UTF-8.
 */
import { Buffer } from 'node:buffer';

/** A path relative to a tree root, one char per byte. '' is the root. */
export type RelPath = string;

export const ROOT: RelPath = '';

export function fromBytes(bytes: Uint8Array): RelPath {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function toBytes(rel: RelPath): Buffer {
  return Buffer.from(rel, 'latin1');
}

export function join(parent: RelPath, name: string): RelPath {
  return parent === '' ? name : `${parent}/${name}`;
}

export function parentOf(rel: RelPath): RelPath {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

export function baseName(rel: RelPath): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

export function components(rel: RelPath): string[] {
  return rel === '' ? [] : rel.split('/');
}

/** True when `rel` is `ancestor` or lies under it. */
export function isWithin(rel: RelPath, ancestor: RelPath): boolean {
  return ancestor === '' || rel === ancestor || rel.startsWith(`${ancestor}/`);
}

/** Absolute path (as bytes) of `rel` under `rootAbs` (a normal string path, e.g. from the command line). */
export function absBytes(rootAbs: string, rel: RelPath): Buffer {
  const root = Buffer.from(rootAbs, 'utf8');
  if (rel === '') return root;
  return Buffer.concat([root, Buffer.from('/'), toBytes(rel)]);
}

/** Bytes a UTF-8 sequence starting with `lead` should have (0 = not a valid lead byte). */
function utf8Length(lead: number): number {
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

const strict = new TextDecoder('utf-8', { fatal: true });

/**
 * Printable form for logs and reports, on one line: printable ASCII and valid UTF-8 characters as they are,
 * a backslash doubled, \n and \t escaped, every other byte (control characters, invalid UTF-8) as \xNN.
 */
export function display(rel: RelPath): string {
  const bytes = toBytes(rel);
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    if (b === 0x5c) {
      out += '\\\\';
      i++;
    } else if (b === 0x0a) {
      out += '\\n';
      i++;
    } else if (b === 0x09) {
      out += '\\t';
      i++;
    } else if (b >= 0x20 && b < 0x7f) {
      out += String.fromCharCode(b);
      i++;
    } else {
      const n = utf8Length(b);
      let ch: string | null = null;
      if (n > 0 && i + n <= bytes.length) {
        try {
          ch = strict.decode(bytes.subarray(i, i + n));
        } catch {
          ch = null;
        }
      }
      if (ch !== null) {
        out += ch;
        i += n;
      } else {
        out += `\\x${b.toString(16).padStart(2, '0')}`;
        i++;
      }
    }
  }
  return out;
}
