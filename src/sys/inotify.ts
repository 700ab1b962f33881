/**
 * Glue only: the raw inotify addon (native/inotify.c) and the directory listing the watcher uses, with typed
 * results. No decisions: which directories to watch, how to pair moves and what an event means live in
 * src/watch/. Failures that are expected (ENOSPC, EACCES, ENOENT races) come back as data with the errno name.
 */
import { lstatSync, readdirSync, statfsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolError, errnoCode, errorText } from '../errors/errors.ts';
import { ExitCode } from '../errors/exit-codes.ts';

/** Handle of a running read loop (an opaque native external). */
export type ReadLoop = { readonly __brand: 'inotify-read-loop' };

interface Addon {
  init(): number;
  addWatch(fd: number, path: Buffer, mask: number): number;
  rmWatch(fd: number, wd: number): void;
  watch(fd: number, callback: (error: string | null, records: Buffer | null) => void): ReadLoop;
  unwatch(loop: ReadLoop): void;
  drain(fd: number): Buffer;
  close(fd: number): void;
}

export type SysResult<T> = { ok: true; value: T } | { ok: false; errno: string; message: string };

const ADDON_PATH = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'native', 'build', 'inotify.node');

let addon: Addon | undefined;

function load(): Addon {
  if (addon) return addon;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;
  } catch (err) {
    throw new ToolError('E_NATIVE_MISSING', `cannot load the inotify addon ${ADDON_PATH}: ${errorText(err)}`, {
      hint: 'build the native parts: npm run build:native',
      exitCode: ExitCode.config,
      cause: err,
    });
  }
  return addon;
}

function failure(err: unknown): { ok: false; errno: string; message: string } {
  return { ok: false, errno: errnoCode(err) ?? 'EUNKNOWN', message: errorText(err) };
}

/** inotify_init1(IN_NONBLOCK | IN_CLOEXEC). EMFILE when fs.inotify.max_user_instances is reached. */
export function inotifyInit(): SysResult<number> {
  const native = load();
  try {
    return { ok: true, value: native.init() };
  } catch (err) {
    return failure(err);
  }
}

/** inotify_add_watch(fd, path, mask) -> wd. Re-adding a watched inode returns its existing wd. */
export function addWatch(fd: number, path: Buffer, mask: number): SysResult<number> {
  try {
    return { ok: true, value: load().addWatch(fd, path, mask) };
  } catch (err) {
    return failure(err);
  }
}

/** inotify_rm_watch; EINVAL when the kernel already dropped the watch. */
export function rmWatch(fd: number, wd: number): SysResult<void> {
  try {
    load().rmWatch(fd, wd);
    return { ok: true, value: undefined };
  } catch (err) {
    return failure(err);
  }
}

/**
 * Calls `onRecords` from the event loop with each chunk of raw `struct inotify_event` records read from fd
 * (read until EAGAIN, at most 4 MiB per call). `onError` gets the errno name of a failed poll or read.
 */
export function startReadLoop(fd: number, onRecords: (records: Buffer) => void, onError: (errno: string) => void): ReadLoop {
  return load().watch(fd, (error, records) => {
    if (error !== null) onError(error);
    else if (records !== null) onRecords(records);
  });
}

export function stopReadLoop(loop: ReadLoop): void {
  load().unwatch(loop);
}

/** Synchronous read of everything queued on fd right now (an empty Buffer when nothing is). */
export function drainSync(fd: number): SysResult<Buffer> {
  try {
    return { ok: true, value: load().drain(fd) };
  } catch (err) {
    return failure(err);
  }
}

export function closeFd(fd: number): SysResult<void> {
  try {
    load().close(fd);
    return { ok: true, value: undefined };
  } catch (err) {
    return failure(err);
  }
}

/**
 * Names (binary strings, one char per byte) of the subdirectories of `path`, from one getdents pass: the
 * kernel's d_type, no stat per entry (Node lstats only entries whose d_type is unknown). Symlinks to
 * directories are not directories here.
 */
export function listSubdirs(path: Buffer): SysResult<string[]> {
  try {
    const entries = readdirSync(path, { withFileTypes: true, encoding: 'latin1' });
    const dirs: string[] = [];
    for (const entry of entries) if (entry.isDirectory()) dirs.push(entry.name);
    return { ok: true, value: dirs };
  } catch (err) {
    return failure(err);
  }
}

/** lstat of a directory: its device and link count (2 + subdirectories on filesystems that count them). */
export function statDir(path: Buffer): SysResult<{ dev: number; nlink: number }> {
  try {
    const st = lstatSync(path);
    return { ok: true, value: { dev: st.dev, nlink: st.nlink } };
  } catch (err) {
    return failure(err);
  }
}

/** statfs f_type (the filesystem's magic number) of the filesystem holding `path`. */
export function fsMagic(path: Buffer): SysResult<number> {
  try {
    return { ok: true, value: statfsSync(path).type };
  } catch (err) {
    return failure(err);
  }
}
