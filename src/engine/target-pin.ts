/**
 * Whether this job's rsync runs pinned to its target (docs/faults.md "The target pin"): when pin-exec is built,
 * we are root, and a probe shows it can make its mount namespace here (a container without CAP_SYS_ADMIN cannot),
 * `targetId` is set on the job's rsync options and every rsync goes through it (src/sync/rsync-args.ts
 * rsyncCommand). Otherwise rsync runs unpinned and the caller warns with the reason returned.
 */
import { PIN_EXEC_PATH, pinExecAvailable, probePinExec } from '../sys/pin-exec.ts';
import type { Identity } from '../sys/fsops.ts';
import type { RsyncCommon } from '../sync/rsync-args.ts';

/** Sets `common.targetId` when pinning works; else returns why not. */
export async function pinTarget(common: RsyncCommon, target: Identity): Promise<string | null> {
  if (!pinExecAvailable()) return `${PIN_EXEC_PATH} is not built or this process is not root`;
  const probe = await probePinExec(target, common.target);
  // 121 (the target changed already) is the batches' business: pinned, they refuse to write and retry
  if (probe.exitCode !== 0 && probe.exitCode !== 121) return `pin-exec cannot run here: exit ${probe.exitCode ?? 'signal'}: ${probe.message}`;
  common.targetId = target;
  return null;
}
