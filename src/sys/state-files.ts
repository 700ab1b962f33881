/**
 * Glue only: the small files a daemon keeps in its state dir (lock, job record, socket) and the one /proc read
 * that tells whether a pid is still the same process. No decisions: callers decide what is stale, what to
 * remove and what to refuse. Every call returns typed data; an errno is data, not an exception.
 *
 * Must not import anything outside node: and ../errors.
 */
import { link, lstat, mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { errnoCode, errorText } from '../errors/errors.ts';
import { crypto } from '../util/builtins.ts';

export type FsFailure = { ok: false; errno: string; message: string };
export type FsResult<T> = { ok: true; value: T } | FsFailure;

function failure(err: unknown): FsFailure {
  return { ok: false, errno: errnoCode(err) ?? 'EUNKNOWN', message: errorText(err) };
}

async function attempt<T>(op: () => Promise<T>): Promise<FsResult<T>> {
  try {
    return { ok: true, value: await op() };
  } catch (err) {
    return failure(err);
  }
}

export interface PathInfo {
  kind: 'file' | 'dir' | 'socket' | 'symlink' | 'other';
  /** permission bits (mode & 0o7777) */
  mode: number;
  uid: number;
}

export function statPath(path: string): Promise<FsResult<PathInfo>> {
  return attempt(async () => {
    const st = await lstat(path);
    const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSocket() ? 'socket' : st.isSymbolicLink() ? 'symlink' : 'other';
    return { kind, mode: st.mode & 0o7777, uid: st.uid };
  });
}

/** mkdir -p with `mode` for the directories it creates (existing ones are left as they are). */
export function makeDir(path: string, mode: number): Promise<FsResult<void>> {
  return attempt(async () => {
    await mkdir(path, { recursive: true, mode });
  });
}

export function readText(path: string): Promise<FsResult<string>> {
  return attempt(() => readFile(path, 'utf8'));
}

export function listDir(path: string): Promise<FsResult<string[]>> {
  return attempt(() => readdir(path));
}

export function removePath(path: string): Promise<FsResult<void>> {
  return attempt(() => unlink(path));
}

export function renamePath(from: string, to: string): Promise<FsResult<void>> {
  return attempt(() => rename(from, to));
}

/** Hard-links `existing` to `path`; fails with EEXIST when `path` exists (atomic). */
export function linkPath(existing: string, path: string): Promise<FsResult<void>> {
  return attempt(() => link(existing, path));
}

function tmpName(path: string): string {
  return `${path}.tmp-${process.pid}-${crypto().randomBytes(4).toString('hex')}`;
}

/** Writes `text` to `path` atomically (temp file in the same dir, then rename over). */
export async function writeAtomic(path: string, text: string, mode: number): Promise<FsResult<void>> {
  const tmp = tmpName(path);
  const written = await attempt(() => writeFile(tmp, text, { mode, flag: 'wx' }));
  if (!written.ok) return written;
  const moved = await renamePath(tmp, path);
  if (!moved.ok) await removePath(tmp);
  return moved;
}

/**
 * Creates `path` holding `text`, only if it does not exist (EEXIST otherwise). The content is complete the
 * moment the name appears: it is written to a temp file first, then hard-linked into place.
 */
export async function createExclusive(path: string, text: string, mode: number): Promise<FsResult<void>> {
  const tmp = tmpName(path);
  const written = await attempt(() => writeFile(tmp, text, { mode, flag: 'wx' }));
  if (!written.ok) return written;
  const linked = await linkPath(tmp, path);
  await removePath(tmp);
  return linked;
}

/**
 * The start time of process `pid` (field 22 of /proc/<pid>/stat, clock ticks since boot), or null when there
 * is no such process. Together with the pid it names one process for good: a reused pid has another start time.
 */
export async function processStartTime(pid: number): Promise<number | null> {
  const stat = await readText(`/proc/${pid}/stat`);
  if (!stat.ok) return null;
  // The command name (field 2) is in parentheses and may itself contain spaces and parentheses.
  const rest = stat.value.slice(stat.value.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[19]);
  return Number.isFinite(ticks) ? ticks : null;
}

/** This process's uid (the daemon and the state dir owner must match). */
export function currentUid(): number {
  return process.getuid?.() ?? -1;
}
