/**
 * Paths and text for status output. Paths inside livesync are binary strings (src/util/bpath.ts); status
 * shows them as text: valid UTF-8 as itself, otherwise printable ASCII as itself and every other byte as \xNN
 * (the same convention as bpath display(), without its JSON escaping, since the status JSON escapes on its own).
 */
import { toBytes, type RelPath } from '../util/bpath.ts';

const hex = (b: number): string => `\\x${b.toString(16).padStart(2, '0')}`;

export function printablePath(rel: RelPath): string {
  const bytes = toBytes(rel);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : hex(b))).join('');
  }
}

/** Control characters (newline, escape...) as \xNN, so a file name cannot break or recolour the terminal. */
export function forTerminal(text: string): string {
  return Array.from(text, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x20 || code === 0x7f ? hex(code) : c;
  }).join('');
}
