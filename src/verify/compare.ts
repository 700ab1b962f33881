/**
 * Compares one path's two sides, pure: existence, type, the ATTRIBUTES table (policy.ts), symlink read
 * errors and extended attributes. mtimes are only recorded raw here (verify.ts judges them at the final
 * precision); content and hard-link structure are judged elsewhere (content-io.ts, hardlinks.ts).
 */
import type { RelPath } from '../util/bpath.ts';
import { ATTRIBUTES, IGNORED_XATTRS, XATTR_NONE_ERRNOS } from './policy.ts';
import type { EntryInfo, Look, RawDifference } from './types.ts';

export interface CompareContext {
  /** compare extended attributes */
  xattrs: boolean;
  /** do not compare mtime (a directory holding excluded names; the root of a running job) */
  skipMtime: boolean;
}

/** Longest xattr value shown in full (hex digits); longer ones are cut and their length given. */
const XATTR_SHOW_HEX = 128;

export function lookOf(e: EntryInfo): Look {
  return { kind: e.kind, size: e.size, mtimeNs: e.mtimeNs, ctimeNs: e.ctimeNs, inode: e.inode };
}

export function sameLook(a: Look | null, b: Look | null): boolean {
  if (a === null || b === null) return a === b;
  return a.kind === b.kind && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.inode === b.inode;
}

/** Appends to `out` every difference between the two sides of `rel` (undefined = absent on that side). */
export function compareEntries(
  rel: RelPath,
  src: EntryInfo | undefined,
  tgt: EntryInfo | undefined,
  ctx: CompareContext,
  out: RawDifference[],
): void {
  if (src === undefined) {
    if (tgt !== undefined) out.push({ rel, kind: 'extra', source: null, target: tgt.kind, look: null });
    return;
  }
  if (tgt === undefined) {
    out.push({ rel, kind: 'missing', source: src.kind, target: null, look: lookOf(src) });
    return;
  }
  const look = lookOf(src);
  if (src.kind !== tgt.kind) {
    out.push({ rel, kind: 'type', source: src.kind, target: tgt.kind, look });
    return;
  }
  for (const rule of ATTRIBUTES) {
    if (rule.appliesTo.includes(src.kind) && !rule.same(src, tgt)) {
      out.push({ rel, kind: rule.kind, source: rule.show(src), target: rule.show(tgt), look });
    }
  }
  if (src.linkError !== undefined || tgt.linkError !== undefined) {
    out.push({ rel, kind: 'unreadable', source: src.linkError ?? null, target: tgt.linkError ?? null, detail: 'readlink', look });
  }
  if (!ctx.skipMtime && src.mtimeNs !== tgt.mtimeNs) {
    out.push({ rel, kind: 'mtime', source: null, target: null, mtimes: { source: src.mtimeNs, target: tgt.mtimeNs }, look });
  }
  if (ctx.xattrs) compareXattrs(rel, src, tgt, look, out);
}

function showXattr(name: string, hex: string | undefined): string | null {
  if (hex === undefined) return null;
  const shown = hex.length > XATTR_SHOW_HEX ? `${hex.slice(0, XATTR_SHOW_HEX)}... (${hex.length / 2} bytes)` : hex;
  return `${name}=0x${shown}`;
}

/** An xattr read error that only means "this filesystem keeps none" counts as an empty set. */
function usable(e: EntryInfo): boolean {
  return e.xattrError === undefined || XATTR_NONE_ERRNOS.has(e.xattrError);
}

function compareXattrs(rel: RelPath, src: EntryInfo, tgt: EntryInfo, look: Look, out: RawDifference[]): void {
  if (!usable(src) || !usable(tgt)) {
    const side = (e: EntryInfo): string | null => (usable(e) ? null : (e.xattrError ?? null));
    out.push({ rel, kind: 'unreadable', source: side(src), target: side(tgt), detail: 'xattrs', look });
    return;
  }
  const a = src.xattrs;
  const b = tgt.xattrs;
  if (a === undefined && b === undefined) return;
  const names = new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})]);
  for (const name of [...names].sort()) {
    if (IGNORED_XATTRS.has(name)) continue;
    const va = a?.[name];
    const vb = b?.[name];
    if (va !== vb) out.push({ rel, kind: 'xattr', source: showXattr(name, va), target: showXattr(name, vb), look });
  }
}
