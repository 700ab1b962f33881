/**
 * Hard-link structure, pure. Paths that are one inode on one side must be one inode on the other, and vice
 * versa. Only paths with more than one link on either side are recorded (the walk sends them as LinkRecords);
 * a path whose other links lie outside the tree simply forms a group of one. Link counts themselves are not
 * compared: links outside the tree, or excluded, are none of the copy's business.
 */
import type { RelPath } from '../util/bpath.ts';
import type { LinkRecord, RawDifference } from './types.ts';

/** Names of the other members listed in a difference, at most. */
const SHOW_MEMBERS = 3;

export class LinkChecker {
  /** inode key -> paths, per side */
  #bySource = new Map<string, RelPath[]>();
  #byTarget = new Map<string, RelPath[]>();
  #records: LinkRecord[] = [];

  add(record: LinkRecord): void {
    this.#records.push(record);
    push(this.#bySource, record.source, record.rel);
    push(this.#byTarget, record.target, record.rel);
  }

  /** One 'hardlink' difference per path whose group differs between the sides, sorted by path. */
  differences(): RawDifference[] {
    const out: RawDifference[] = [];
    const verdicts = new Map<string, boolean>();
    for (const r of this.#records) {
      const sourceGroup = this.#bySource.get(r.source) ?? [r.rel];
      const targetGroup = this.#byTarget.get(r.target) ?? [r.rel];
      const pair = `${r.source}|${r.target}`;
      let same = verdicts.get(pair);
      if (same === undefined) verdicts.set(pair, (same = sameMembers(sourceGroup, targetGroup)));
      if (same) continue;
      out.push({ rel: r.rel, kind: 'hardlink', source: describe(r.rel, sourceGroup), target: describe(r.rel, targetGroup), look: r.look });
    }
    return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  }
}

function push(map: Map<string, RelPath[]>, key: string, rel: RelPath): void {
  const group = map.get(key);
  if (group) group.push(rel);
  else map.set(key, [rel]);
}

function sameMembers(a: readonly RelPath[], b: readonly RelPath[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((rel) => set.has(rel));
}

/** "own inode" or "linked with x, y (+N more)"; names are binary strings, escaped when rendered. */
function describe(rel: RelPath, group: readonly RelPath[]): string {
  const others = group.filter((r) => r !== rel).sort();
  if (others.length === 0) return 'own inode';
  const shown = others.slice(0, SHOW_MEMBERS).join(', ');
  return others.length > SHOW_MEMBERS ? `linked with ${shown} (+${others.length - SHOW_MEMBERS} more)` : `linked with ${shown}`;
}
