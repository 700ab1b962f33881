/** `cutover --verify`: the final-delta paths compared by content (src/verify), inside the freeze. */
import { verifyTrees } from '../verify/verify.ts';
import type { RelPath } from '../util/bpath.ts';

export async function verifyDelta(source: string, target: string, paths: readonly RelPath[]): Promise<string[]> {
  if (paths.length === 0) return [];
  const report = await verifyTrees({ source, target, paths, checksum: true, recheckDelayMs: false });
  // Difference.path is already escaped for display
  return report.differences.map((d) => `${d.path}: ${d.kind}`);
}
