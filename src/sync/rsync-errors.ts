/**
 * Pure: which paths of a batch rsync failed on, read from its stderr, so a partial transfer (exit 23) re-queues
 * exactly those and not the whole batch. rsync quotes paths in its error lines, escaping unprintable bytes as
 * \#ooo (octal), and prints them absolute (source or target side) or relative to the transfer root, e.g.
 *   rsync: [sender] send_files failed to open "/src/a/b": Permission denied (13)
 *   rsync: [receiver] rename "/dst/a/.b.Xk3s9" -> "a/b": Operation not permitted (1)
 * Each candidate is mapped back to a relative path and kept only if it belongs to the batch (listed, or under a
 * listed directory). No match at all means "unknown": the caller re-queues the whole batch.
 */
import type { RelPath } from '../util/bpath.ts';

export interface FailedPath {
  path: RelPath;
  message: string;
}

function unescapeRsync(s: string): string {
  return s.replace(/\\#([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

function relative(candidate: string, roots: readonly string[]): string {
  for (const root of roots) {
    const r = root.endsWith('/') ? root : `${root}/`;
    if (candidate.startsWith(r)) return candidate.slice(r.length);
    if (candidate === root) return '';
  }
  return candidate.replace(/^\.\//, '');
}

/**
 * @param stderr rsync's stderr, decoded as latin1 (byte-per-char, like RelPath)
 * @param roots  source and target roots (latin1 strings)
 * @param listed paths handed to rsync, and whether each was recursive
 */
export function failedPaths(stderr: string, roots: readonly string[], listed: ReadonlyMap<RelPath, boolean>): FailedPath[] {
  const out = new Map<RelPath, string>();
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('rsync: ') && !line.startsWith('rsync error: ') && !line.includes('failed')) continue;
    if (line.startsWith('rsync error: ')) continue; // the summary line names no path
    if (VANISHED_NOTDIR.test(line)) continue; // gone from the source: nothing to retry
    const message = line.replace(/^rsync: (\[[a-z]+\] )?/, '').trim();
    for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
      const rel = relative(unescapeRsync(m[1]!), roots);
      // issue 3 fix: mkstemp and rename lines name rsync's temp file (.NAME.XXXXXX): map it to NAME. Without
      // this a failed mkstemp's file counted as landed, and a temp name under a recursive entry became a failed path
      const owner = /(?:mkstemp|rename) "/.test(line) ? tempOwner(rel, listed) : belongs(rel, listed);
      if (owner !== null) out.set(owner, message);
    }
  }
  return [...out].map(([path, message]) => ({ path, message }));
}

/**
 * A listed source path whose parent is no longer a directory (`mkdir d; ...; rm -r d; echo > d` while `d/f`
 * waited in a batch): rsync reports ENOTDIR and exits 23, but the path is simply gone, like a vanished file
 * (exit 24). Retrying it forever made the job degraded for a path that no longer exists.
 */
const VANISHED_NOTDIR = /^rsync: (\[[a-z]+\] )?link_stat ".*" failed: Not a directory \(20\)$/;

/** True when every error line of a partial transfer is a vanished path (nothing failed). */
export function onlyVanished(stderr: string): boolean {
  const errors = stderr.split('\n').filter((l) => l.startsWith('rsync: '));
  return errors.length > 0 && errors.every((l) => VANISHED_NOTDIR.test(l));
}

/** The listed path `rel` is, or lies under (for recursive entries); null if none. */
function belongs(rel: RelPath, listed: ReadonlyMap<RelPath, boolean>): RelPath | null {
  if (listed.has(rel)) return rel;
  for (let i = rel.lastIndexOf('/'); i > 0; i = rel.lastIndexOf('/', i - 1)) {
    const anc = rel.slice(0, i);
    if (listed.get(anc) === true) return rel;
  }
  if (listed.get('') === true && rel !== '' && !rel.startsWith('/')) return rel;
  return null;
}

/** rsync truncates the NAME in a temp file name `.NAME.XXXXXX` to this many bytes (NAME_MAX - 8). */
const TEMP_NAME_MAX = 247;

/**
 * rsync creates each file as a temp file `.NAME.XXXXXX` next to it, and a failed mkstemp (or rename into place)
 * names that temp file: map it back to the batch path it stands for (a name cut short: the listed file of that
 * directory it begins, else the recursive entry above it, re-synced whole). Any other path: as `belongs`.
 */
function tempOwner(rel: RelPath, listed: ReadonlyMap<RelPath, boolean>): RelPath | null {
  const m = /^((?:[^]*\/)?)\.([^/]+)\.[A-Za-z0-9]{6}$/.exec(rel);
  if (!m) return belongs(rel, listed);
  const dir = m[1]!;
  const stem = m[2]!;
  if (stem.length < TEMP_NAME_MAX) return belongs(dir + stem, listed);
  for (const p of listed.keys()) if (p.startsWith(dir + stem) && !p.includes('/', dir.length)) return p;
  for (let d = dir.slice(0, -1); ; d = d.slice(0, Math.max(0, d.lastIndexOf('/')))) {
    if (listed.get(d) === true) return d;
    if (d === '') return null;
  }
}

/**
 * rsync skipped --delete for the rest of a run after an I/O error while listing (e.g. llistxattr on a file that
 * vanished): it says so on stdout, and the extraneous target entries of the run's directories stay.
 */
export function deletionsSkipped(stdout: string): boolean {
  return stdout.includes('IO error encountered -- skipping file deletion');
}
