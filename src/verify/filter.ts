/**
 * Which paths verify skips, pure: livesync's own cookie files (names starting with `.livesync`, any depth)
 * and the operator's --exclude patterns, in livesync's one exclude language (src/watch/exclude.ts: rsync's
 * rules), so verify skips exactly what the mirror skips. An excluded directory is not descended into.
 */
import type { RelPath } from '../util/bpath.ts';
import { compileExcludes, type CompiledExcludes } from '../watch/exclude.ts';
import { COOKIE_PREFIX } from './policy.ts';

export { validateExclude } from '../watch/exclude.ts';

export class PathFilter {
  #excludes: CompiledExcludes;
  #any: boolean;

  /** Patterns must be valid (validateExclude); options.ts checks them before any walking. */
  constructor(patterns: readonly string[]) {
    this.#excludes = compileExcludes(patterns);
    this.#any = patterns.length > 0;
  }

  /** Whether any --exclude pattern was given (without, only cookie names are skipped). */
  get hasPatterns(): boolean {
    return this.#any;
  }

  static isCookie(name: string): boolean {
    return name.startsWith(COOKIE_PREFIX);
  }

  /**
   * True when `rel` (last component `name`) is skipped. The walk calls it only for names whose parent was
   * not skipped, so checking the path itself suffices (the exclude module also re-checks the parents).
   */
  excludes(rel: RelPath, name: string, isDir: boolean): boolean {
    return PathFilter.isCookie(name) || (this.#any && this.#excludes.isExcluded(rel, isDir));
  }

  /** For a path given on its own (verify of a path list): a cookie or excluded component anywhere skips it. */
  excludesPath(rel: RelPath, isDir: boolean): boolean {
    if (rel.split('/').some(PathFilter.isCookie)) return true;
    return this.#any && this.#excludes.isExcluded(rel, isDir);
  }
}
