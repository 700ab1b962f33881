/**
 * Glue only: kernel limits. Read and write a numeric parameter under /proc/sys (what sysctl(8) does, without
 * the tool), and count what a user already holds against the inotify limits (from /proc/PID/fdinfo). Typed
 * results, an errno is data; no decisions: which value to set, and whether to, is the caller's policy
 * (src/watch/limits.ts). Sysctls are global to the machine, not per mount namespace.
 */
import { readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { errnoCode, errorText, InternalError } from '../errors/errors.ts';

export type SysctlResult<T> = { ok: true; value: T } | { ok: false; errno: string; message: string };

/** Dotted sysctl names only (fs.inotify.max_user_watches): never a path with `..` or a slash in it. */
const NAME = /^[a-z0-9_]+(\.[a-z0-9_]+)+$/;

function fileOf(name: string): string {
  if (!NAME.test(name)) throw new InternalError(`not a sysctl name: ${JSON.stringify(name)}`);
  return `/proc/sys/${name.replaceAll('.', '/')}`;
}

/** The value of a numeric sysctl, e.g. readSysctl('fs.inotify.max_user_watches'). */
export function readSysctl(name: string): SysctlResult<number> {
  try {
    const text = readFileSync(fileOf(name), 'utf8').trim();
    const value = Number(text);
    if (!Number.isSafeInteger(value)) return { ok: false, errno: 'EINVAL', message: `${name} is not a number: ${JSON.stringify(text)}` };
    return { ok: true, value };
  } catch (err) {
    return { ok: false, errno: errnoCode(err) ?? 'EIO', message: errorText(err) };
  }
}

/** Sets a numeric sysctl (root only; EACCES or EROFS otherwise, e.g. in a container). */
export function writeSysctl(name: string, value: number): SysctlResult<void> {
  if (!Number.isSafeInteger(value) || value < 0) throw new InternalError(`bad value for ${name}: ${value}`);
  try {
    writeFileSync(fileOf(name), `${value}\n`);
    return { ok: true, value: undefined };
  } catch (err) {
    return { ok: false, errno: errnoCode(err) ?? 'EIO', message: errorText(err) };
  }
}

/**
 * inotify instances and watches held right now by the processes of user `uid` (the kernel counts both limits
 * per user): every fd that is an inotify instance, and its `inotify wd:` lines in fdinfo. Processes and fds
 * that vanish or cannot be read meanwhile are skipped, so this is a lower bound.
 */
export function inotifyUsage(uid: number): { instances: number; watches: number } {
  let instances = 0;
  let watches = 0;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return { instances, watches };
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      if (statSync(`/proc/${pid}`).uid !== uid) continue;
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:inotify') continue;
        instances++;
        for (const line of readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1').split('\n')) if (line.startsWith('inotify wd:')) watches++;
      } catch {
        // the process or the fd went away
      }
    }
  }
  return { instances, watches };
}
