/**
 * The dirty set's trie (src/engine/dirty-set.ts): its node, its entry flags, and the walks that only read or
 * create nodes. The set itself keeps the counts, the timestamps and the collapse policy.
 */
import { components, type RelPath } from '../util/bpath.ts';

export const META = 1;
export const DATA = 2;
export const DEEP = 4;
/** the path was deleted or moved away: rsync's deletion changes the parent's mtime after rsync set it */
export const GONE = 8;
/** the entry carries a deletion: only a batch that may delete syncs it (src/engine/schedule.ts) */
export const SETTLE = 16;

export interface Node {
  children: Map<string, Node> | null;
  flags: number;
  /** ms since epoch when first marked; 0 when the node only carries children */
  since: number;
  /** children created as marked entries themselves (not as the way to a deeper mark): the collapse count */
  direct: number;
  /** the child count at which the entries below are counted next (0: the first check point) */
  nextCheck: number;
}

export function newNode(): Node {
  return { children: null, flags: 0, since: 0, direct: 0, nextCheck: 0 };
}

/** Entries (flagged nodes) strictly below `node`, counted up to `cap` (the walk stops there). */
export function entriesBelow(node: Node, cap: number): number {
  let entries = 0;
  const stack = node.children ? [...node.children.values()] : [];
  while (stack.length > 0 && entries < cap) {
    const cur = stack.pop()!;
    if (cur.flags) entries++;
    if (cur.children) for (const c of cur.children.values()) stack.push(c);
  }
  return entries;
}

/** The nearest recursive entry strictly above `path` in the trie at `root` (it absorbed every mark below it). */
export function coveringDeep(root: Node, path: RelPath): Node | null {
  const names = components(path);
  names.pop();
  let node: Node | undefined = root;
  for (const name of names) {
    if (node.flags & DEEP) return node;
    node = node.children?.get(name);
    if (!node) return null;
  }
  return node.flags & DEEP ? node : null;
}

/** The node for `path` under `root`, created if needed; null when a DEEP ancestor already covers it. */
export function nodeFor(root: Node, path: RelPath): Node | null {
  let node = root;
  for (const name of components(path)) {
    if (node.flags & DEEP) return null;
    node.children ??= new Map();
    let child = node.children.get(name);
    if (!child) {
      child = newNode();
      node.children.set(name, child);
    }
    node = child;
  }
  return node;
}
