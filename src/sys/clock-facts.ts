/**
 * Glue only: the few facts about clocks and filesystems the last-good-point record (src/engine/last-good.ts)
 * is judged with: this boot's id, the wall and monotonic clocks, a path's ctime in ns, the type of the
 * filesystem holding a path, and the record file itself. Typed results, no decisions.
 */
import { lstatSync, readFileSync, realpathSync } from 'node:fs';
import { readMountInfo } from './mount.ts';
import { writeFileAtomic } from './fsops.ts';

/** The kernel's id of this boot (changes on every reboot), or null when it cannot be read. */
export function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
  } catch {
    return null;
  }
}

/** Wall clock (ms since the epoch) and monotonic clock (ns since boot, system-wide), read together. */
export function clocks(): { wallMs: number; monoNs: bigint } {
  return { wallMs: Date.now(), monoNs: process.hrtime.bigint() };
}

/** lstat's ctime in ns, or null when the path cannot be read. */
export function ctimeNsOf(path: string): bigint | null {
  try {
    return lstatSync(path, { bigint: true }).ctimeNs;
  } catch {
    return null;
  }
}

/** The type (mountinfo's fstype, e.g. "ext4", "nfs4") of the filesystem holding `path`, or null. */
export function fsTypeOf(path: string): string | null {
  try {
    const real = realpathSync(path);
    let best: { len: number; type: string } | null = null;
    for (const m of readMountInfo()) {
      const p = m.mountPoint;
      const holds = p === '/' || real === p || real.startsWith(`${p}/`);
      if (holds && (best === null || p.length >= best.len)) best = { len: p.length, type: m.fsType };
    }
    return best?.type ?? null;
  } catch {
    return null;
  }
}

/** A small text file's content, or null when it is absent or unreadable. */
export function readSmallFile(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Writes a small file aside and renames it over `path`; the errno when that failed. */
export function replaceSmallFile(path: string, text: string): { ok: true } | { ok: false; message: string } {
  try {
    writeFileAtomic(path, text);
    return { ok: true };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}
