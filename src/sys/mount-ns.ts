/**
 * Glue only: "am I in a private mount namespace that livesync (or its test runner) created?" Comparing with
 * pid 1's namespace is not enough (a session may already run in a namespace of its own), so whoever calls
 * `unshare --mount` passes its own namespace id in LIVESYNC_PARENT_MNTNS, and the child checks it differs.
 */
import { readFileSync, readlinkSync } from 'node:fs';

export const PARENT_MNTNS_ENV = 'LIVESYNC_PARENT_MNTNS';

export function currentMountNs(): string {
  return readlinkSync('/proc/self/ns/mnt');
}

export function inPrivateMountNs(): boolean {
  const parent = process.env[PARENT_MNTNS_ENV];
  if (parent) return parent !== currentMountNs();
  // Run by hand (`unshare -m ... node --test file`): private when an ancestor below pid 1 lives in another
  // mount namespace, i.e. the namespace was created below this session, not around it.
  const mine = currentMountNs();
  for (let pid = process.ppid; pid > 1; pid = parentPid(pid)) {
    try {
      if (readlinkSync(`/proc/${pid}/ns/mnt`) !== mine) return true;
    } catch {
      return false;
    }
  }
  return false;
}

function parentPid(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** argv prefix + env to re-run a command in a new private mount namespace. */
export function unshareCommand(argv: string[]): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
  return {
    file: 'unshare',
    args: ['--mount', '--propagation', 'private', ...argv],
    env: { ...process.env, [PARENT_MNTNS_ENV]: currentMountNs() },
  };
}
