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

/** Printable form for logs: valid UTF-8 shows as text, invalid bytes as \xNN, control chars escaped. */
export function display(rel: RelPath): string {
  const bytes = toBytes(rel);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const printable = text.includes('\uFFFD')
    ? Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('')
    : text;
  return JSON.stringify(printable).slice(1, -1);
}
