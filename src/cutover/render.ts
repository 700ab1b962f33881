/** Human rendering of a cutover plan (dry run) and report. Pure: returns text. */
import type { CutoverReport } from './types.ts';

export function renderReport(r: CutoverReport): string {
  const lines: string[] = [];
  const title: Record<CutoverReport['outcome'], string> = {
    completed: 'CUTOVER COMPLETE',
    'completed-with-problems': 'CUTOVER COMPLETE WITH PROBLEMS: act on the list below',
    'rolled-back': 'CUTOVER ROLLED BACK: everything is as before',
    'precondition-failed': 'CUTOVER NOT STARTED: a precondition failed; nothing was changed',
    'dry-run': 'CUTOVER PLAN (dry run: nothing was changed)',
    'rollback-incomplete': 'CUTOVER FAILED AND THE ROLLBACK IS INCOMPLETE: an operator must act',
  };
  lines.push(title[r.outcome], `  ${r.message}`, `  job ${r.name}: ${r.source} → ${r.target}`);
  if (r.freezeMs !== null) lines.push(`  freeze window: ${r.freezeMs} ms`);
  if (r.estimatedFreezeMs !== undefined) lines.push(`  dirty paths now: ${r.dirtyPaths}; estimated freeze: ~${r.estimatedFreezeMs} ms`);
  if (r.finalDelta) {
    const d = r.finalDelta;
    const v = d.verified === null ? '' : d.verified ? ', verified by content' : ', VERIFY FOUND DIFFERENCES';
    lines.push(`  final delta: ${d.paths} paths (${d.files} files, ${d.bytes} bytes): barrier ${d.barrierMs} ms, sync ${d.syncMs} ms${v}`);
  }
  if (r.mounts.length > 0) lines.push('  mounts:', ...r.mounts.map((m) => `    ${m}`));
  if (r.processes.length > 0) {
    lines.push('  processes:');
    for (const p of r.processes) {
      lines.push(`    ${p.pid} ${p.comm}: ${p.verdict}`);
      for (const a of p.actions) lines.push(`      ${a}`);
      for (const s of p.stays) lines.push(`      stays (restart to release): ${s}`);
    }
  }
  if (r.steps.length > 0) lines.push(`  steps: ${r.steps.map((s) => `${s.step} ${s.ms} ms${s.ok ? '' : ' FAILED'}`).join(', ')}`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  for (const p of r.problems) lines.push(`  PROBLEM: ${p}`);
  if (r.oldTree) lines.push(`  the old tree stays reachable at ${r.oldTree} (compare: livesync verify ${r.name})`);
  if (r.fstab) lines.push(`  to make the mount permanent, add to /etc/fstab:`, `    ${r.fstab}`);
  lines.push(`  journal: ${r.journal}`);
  return lines.join('\n');
}
