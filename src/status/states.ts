/**
 * What each mirror state means to an operator: one row per state (the Record makes a new state a compile
 * error here until it is described). Used by the human status view, the metrics state gauge and the docs.
 */
import type { MirrorState } from '../events/event.ts';

export interface StateInfo {
  /** false when an operator should look (flush refuses, the alert fires) */
  healthy: boolean;
  summary: string;
}

export const STATE_INFO: Readonly<Record<MirrorState, StateInfo>> = {
  // the daemon is checking its inputs and adding watches
  starting: { healthy: true, summary: 'adding watches' },
  // the initial copy of the whole tree runs; changes are queued and synced alongside
  seeding: { healthy: true, summary: 'initial copy running' },
  // the seed is done; the queue of changes made meanwhile is draining
  'catching-up': { healthy: true, summary: 'draining the changes made during the seed' },
  // steady state: changes land within one batch delay
  'in-sync': { healthy: true, summary: 'changes land within one batch' },
  // still mirroring, but something is wrong (failing target, failed paths, unwatched dirs)
  degraded: { healthy: false, summary: 'mirroring with problems; see failures' },
  // stopped propagating on purpose (source root vanished or emptied): the target is untouched
  halted: { healthy: false, summary: 'stopped propagating to protect the target' },
  // the cutover is freezing the application and syncing the last delta
  'cutting-over': { healthy: true, summary: 'cutover in progress' },
  // the share is mounted at the source; the job has nothing left to do
  'cut-over': { healthy: true, summary: 'cutover done' },
  // finishing the in-flight batch before exiting
  stopping: { healthy: true, summary: 'finishing the in-flight batch' },
};

export const MIRROR_STATES = Object.keys(STATE_INFO) as MirrorState[];
