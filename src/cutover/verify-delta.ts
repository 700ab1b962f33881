/** `cutover --verify`: the final-delta paths compared by content (src/verify), inside the freeze. */
import { verifyTrees } from '../verify/verify.ts';
import type { RelPath } from '../util/bpath.ts';

export async function verifyDelta(source: string, target: string, paths: readonly RelPath[]): Promise<string[]> {
  // the root's own entry (its mtime after a change at the top level) has no content to compare, and verifying
  // "" would compare the whole tree inside the freeze: it is left out (it was refused as "not relative to the
  // roots", which rolled the cutover back)
  const some = paths.filter((p) => p !== '');
  if (some.length === 0) return [];
  const report = await verifyTrees({ source, target, paths: some, checksum: true, recheckDelayMs: false });
  // Difference.path is already escaped for display
  return report.differences.map((d) => `${d.path}: ${d.kind}`);
}
