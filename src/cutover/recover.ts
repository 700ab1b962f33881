/**
 * `livesync recover`: after livesync died during a cutover, read the journal and say where things stand.
 * Frozen processes resume by themselves when livesync's ptrace helper dies (the kernel detaches tracees);
 * this checks that none is still stopped, and reports the mounts and the next action:
 *   died before mount-share    → nothing is switched: unmount the old-tree bind (done here), start mirroring
 *   died after mount-share, before repoint done → the share is at the source path but the processes still
 *                                 write to the old tree: roll back the mount (done here); the old tree is the truth
 *   died after repoint         → the cutover is complete; only the report was lost
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mountAt, umount } from '../sys/mount.ts';
import { lastPhases, readJournal } from './journal.ts';
import type { JournalRecord } from './types.ts';

export interface RecoverReport {
  journal: string;
  found: boolean;
  finished: boolean;
  actions: string[];
  advice: string[];
  stillStopped: number[];
}

function stoppedPids(records: readonly JournalRecord[]): number[] {
  const freeze = records.find((r) => r.step === 'freeze' && r.phase === 'done');
  const pids = (freeze?.detail?.['pids'] as Array<{ pid: number; starttime: string }> | undefined) ?? [];
  return pids
    .filter(({ pid, starttime }) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return f[19] === starttime && (f[0] === 't' || f[0] === 'T');
      } catch {
        return false;
      }
    })
    .map((p) => p.pid);
}

export async function recover(info: { name: string; stateDir: string; source: string }, apply: boolean): Promise<RecoverReport> {
  const journal = join(info.stateDir, `${info.name}.cutover.journal`);
  const report: RecoverReport = { journal, found: existsSync(journal), finished: false, actions: [], advice: [], stillStopped: [] };
  if (!report.found) {
    report.advice.push(`no cutover journal at ${journal}: nothing to recover`);
    return report;
  }
  const records = readJournal(journal);
  const phases = lastPhases(records);
  report.finished = phases.get('cutover') === 'finished';
  report.stillStopped = stoppedPids(records);
  const oldTree = join(info.stateDir, info.name, 'old');
  const committed = records.some((r) => r.step === 'mount-share' && r.phase === 'committed');
  const repointed = phases.get('repoint') === 'done' || phases.get('thaw') !== undefined;
  if (report.finished || (committed && repointed)) {
    report.advice.push(`the cutover completed: ${info.source} serves the share; the old tree is at ${oldTree}`);
  } else if (committed) {
    report.advice.push('livesync died after mounting the share but before every process was re-pointed: the old tree is the truth');
    if (apply && mountAt(info.source)) {
      const r = await umount(info.source);
      report.actions.push(r.exitCode === 0 ? `unmounted the share from ${info.source}` : `FAILED to unmount ${info.source}: ${r.stderr.trim()}`);
    } else report.advice.push(`run \`umount ${info.source}\` (or \`livesync recover --apply\`), then start mirroring again`);
  } else {
    report.advice.push('livesync died before the commit point: nothing was switched');
  }
  if (!committed && mountAt(oldTree)) {
    if (apply) {
      const r = await umount(oldTree);
      report.actions.push(r.exitCode === 0 ? `unmounted the old-tree bind ${oldTree}` : `FAILED to unmount ${oldTree}: ${r.stderr.trim()}`);
    } else report.advice.push(`run \`umount ${oldTree}\` (or \`livesync recover --apply\`)`);
  }
  if (report.stillStopped.length > 0) report.advice.push(`processes still stopped: ${report.stillStopped.join(', ')}; resume them with kill -CONT`);
  if (!report.finished) report.advice.push('then run `livesync start` again: it reconciles the source and the share');
  return report;
}
