/**
 * The one exclude language of livesync: rsync's own `--exclude=PATTERN` rules, so the watcher, the seed and
 * every batch agree, and the very same strings are handed to rsync (rsyncArgs). Matching is byte-wise on
 * binary paths (src/util/bpath.ts), as rsync's wildmatch is.
 *
 * Rules (rsync(1) "INCLUDE/EXCLUDE PATTERN RULES", exclude.c rule_matches, lib/wildmatch.c):
 * - a pattern without '/' (a trailing one not counted) and without '**' matches the last component, any depth;
 * - otherwise it matches the full relative path: anchored at the root when it starts with '/', else any
 *   trailing portion that starts right after a '/';
 * - a trailing '/' matches directories only; 'dir/***' matches dir itself and everything below it;
 * - '*' matches within one component, '**' across '/', '?' one char but '/', '[...]' a class ('!' or '^'
 *   negates, ranges, [:alpha:] etc., never '/'); '\' escapes, but only in patterns that have a wildcard;
 * - a leading '**' may match nothing at the start ('**' + '/foo' matches 'foo').
 * A path is excluded when it or any of its parent directories matches (rsync never descends into an
 * excluded directory).
 */
import { Buffer } from 'node:buffer';
import { ToolError } from '../errors/errors.ts';
import { ExitCode } from '../errors/exit-codes.ts';
import type { RelPath } from '../util/bpath.ts';

export interface CompiledExcludes {
  readonly patterns: readonly string[];
  /** true when some pattern matches more than the last component ('/' inside, or '**') */
  readonly matchesPaths: boolean;
  /** true when `rel` or one of its parent directories is excluded ('' is never excluded) */
  readonly isExcluded: (rel: RelPath, isDir: boolean) => boolean;
  /** the same rules as rsync arguments: ['--exclude=PATTERN', ...] */
  rsyncArgs(): string[];
}

interface Rule {
  dirOnly: boolean;
  /** match only the last component */
  basename: boolean;
  /** prepend '/' to the text so a leading '**' + '/' can match at the start (FILTRULE_WILD2_PREFIX) */
  slashPrefix: boolean;
  /** append '/' to directories so 'x/***' matches x itself (FILTRULE_WILD3_SUFFIX) */
  dirSlashSuffix: boolean;
  re: RegExp | null;
}

/** rsync drops longer filters (MAXPATHLEN). */
const MAX_PATTERN_BYTES = 4095;

const POSIX_CLASSES: Readonly<Record<string, (c: number) => boolean>> = {
  alnum: (c) => isDigit(c) || isAlpha(c),
  alpha: (c) => isAlpha(c),
  blank: (c) => c === 0x20 || c === 0x09,
  cntrl: (c) => c < 0x20 || c === 0x7f,
  digit: (c) => isDigit(c),
  graph: (c) => c > 0x20 && c < 0x7f,
  lower: (c) => c >= 0x61 && c <= 0x7a,
  print: (c) => c >= 0x20 && c < 0x7f,
  punct: (c) => c > 0x20 && c < 0x7f && !isDigit(c) && !isAlpha(c),
  space: (c) => (c >= 0x09 && c <= 0x0d) || c === 0x20,
  upper: (c) => c >= 0x41 && c <= 0x5a,
  xdigit: (c) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66),
};

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function hex(c: number): string {
  return `\\x${c.toString(16).padStart(2, '0')}`;
}

function literal(c: number): string {
  return isDigit(c) || isAlpha(c) ? String.fromCharCode(c) : hex(c);
}

/** Parses a '[...]' class at pat[start] as wildmatch does; returns the regex and the index after ']'. */
function parseClass(pat: string, start: number): { re: string; next: number } | null {
  const member = new Uint8Array(256);
  let p = start + 1;
  let ch = pat.charCodeAt(p);
  if (ch === 0x5e) ch = 0x21; // '^' negates like '!'
  const negate = ch === 0x21;
  if (negate) ch = pat.charCodeAt(++p);
  let prev = -1;
  do {
    if (Number.isNaN(ch)) return null;
    if (ch === 0x5c) {
      ch = pat.charCodeAt(++p);
      if (Number.isNaN(ch)) return null;
      member[ch] = 1;
    } else if (ch === 0x2d && prev >= 0 && p + 1 < pat.length && pat[p + 1] !== ']') {
      ch = pat.charCodeAt(++p);
      if (ch === 0x5c) ch = pat.charCodeAt(++p);
      if (Number.isNaN(ch)) return null;
      for (let c = prev; c <= ch; c++) member[c] = 1;
      ch = -1;
    } else if (ch === 0x5b && pat[p + 1] === ':') {
      const s = p + 2;
      const close = pat.indexOf(']', s);
      if (close < 0) return null;
      if (close - s - 1 < 0 || pat[close - 1] !== ':') {
        member[0x5b] = 1; // no ":]": a plain '[' in the set, continue after it
      } else {
        const test = POSIX_CLASSES[pat.slice(s, close - 1)];
        if (test === undefined) return null;
        for (let c = 0; c < 256; c++) if (test(c)) member[c] = 1;
        p = close;
        ch = -1;
      }
    } else {
      member[ch] = 1;
    }
    prev = ch;
    ch = pat.charCodeAt(++p);
  } while (ch !== 0x5d);
  let re = '';
  for (let c = 0; c < 256; c++) {
    if (c === 0x2f || (member[c] === 1) === negate) continue;
    let end = c;
    while (end + 1 < 256 && end + 1 !== 0x2f && (member[end + 1] === 1) !== negate) end++;
    re += end === c ? hex(c) : `${hex(c)}-${hex(end)}`;
    c = end;
  }
  return { re: re === '' ? '(?!)' : `[${re}]`, next: p + 1 };
}

/** Regex source for a pattern body, or null when rsync could never match it (bad class, trailing '\'). */
function bodySource(body: string, wild: boolean): string | null {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (!wild) {
      out += literal(c);
    } else if (c === 0x5c) {
      if (++i >= body.length) return null;
      out += literal(body.charCodeAt(i));
    } else if (c === 0x3f) {
      out += '[^/]';
    } else if (c === 0x2a) {
      let stars = 1;
      while (body.charCodeAt(i + 1) === 0x2a) {
        stars++;
        i++;
      }
      out += stars === 1 ? '[^/]*' : '[^]*';
    } else if (c === 0x5b) {
      const cls = parseClass(body, i);
      if (cls === null) return null;
      out += cls.re;
      i = cls.next - 1;
    } else {
      out += literal(c);
    }
  }
  return out;
}

function compileRule(pattern: string): Rule {
  let pat = Buffer.from(pattern, 'utf8').toString('latin1');
  let dirOnly = false;
  if (pat.length > 1 && pat.endsWith('/')) {
    pat = pat.slice(0, -1);
    dirOnly = true;
  }
  const slashes = pat.split('/').length - 1;
  const wild = /[*?[]/.test(pat);
  const wild2 = wild && pat.includes('**');
  const anchored = pat.startsWith('/');
  const body = anchored ? pat.slice(1) : pat;
  const basename = slashes === 0 && !wild2;
  const slashPrefix = wild2 && pat.startsWith('**');
  // unanchored full-path patterns match at the start or right after any '/' (rsync's slash_handling != 0)
  const anywhere = !anchored && !basename && !slashPrefix;
  const src = bodySource(body, wild);
  const re = src === null ? null : new RegExp(anywhere ? `^(?:[^]*/)?${src}$` : `^${src}$`);
  return { dirOnly, basename, slashPrefix, dirSlashSuffix: wild2 && pat.endsWith('***'), re };
}

function ruleMatches(rule: Rule, rel: RelPath, isDir: boolean): boolean {
  if (rule.re === null || (rule.dirOnly && !isDir)) return false;
  let text = rule.basename ? rel.slice(rel.lastIndexOf('/') + 1) : rel;
  if (rule.slashPrefix) text = `/${text}`;
  if (rule.dirSlashSuffix && isDir) text = `${text}/`;
  return rule.re.test(text);
}

function invalid(pattern: string, problem: string, hint: string): ToolError {
  return new ToolError('E_EXCLUDE_INVALID', `invalid exclude pattern ${JSON.stringify(pattern)}: ${problem}`, {
    hint,
    exitCode: ExitCode.usage,
  });
}

/** Throws a ToolError for a pattern rsync would misread or could never match. */
export function validateExclude(pattern: string): void {
  if (pattern === '') throw invalid(pattern, 'it is empty', 'remove the empty --exclude');
  if (pattern.includes('\0')) throw invalid(pattern, 'it contains a NUL byte', 'file names cannot contain NUL; remove it');
  if (pattern === '!') throw invalid(pattern, "rsync reads a lone '!' as 'clear the exclude list'", 'remove it');
  if (pattern.startsWith('- ') || pattern.startsWith('+ ')) {
    throw invalid(pattern, `rsync reads a leading '${pattern[0]} ' as a rule prefix`, `write it as '[${pattern[0]}] ${pattern.slice(2)}'`);
  }
  if (/^\/+$/.test(pattern)) throw invalid(pattern, 'it matches nothing', "to exclude everything, do not mirror; to exclude a top-level name, write '/name'");
  if (Buffer.byteLength(pattern, 'utf8') > MAX_PATTERN_BYTES) throw invalid(pattern, 'it is longer than 4095 bytes', 'shorten it');
  if (compileRule(pattern).re === null) {
    throw invalid(pattern, 'rsync could never match it (unclosed [...], unknown [:class:] or a trailing backslash)', "escape a literal '[' as '\\[' or fix the class");
  }
}

export function compileExcludes(patterns: readonly string[]): CompiledExcludes {
  for (const p of patterns) validateExclude(p);
  const rules = patterns.map(compileRule);
  const matchesAny = (rel: RelPath, isDir: boolean): boolean => rules.some((r) => ruleMatches(r, rel, isDir));
  const isExcluded = (rel: RelPath, isDir: boolean): boolean => {
    if (rules.length === 0 || rel === '') return false;
    for (let i = rel.indexOf('/'); i >= 0; i = rel.indexOf('/', i + 1)) {
      if (matchesAny(rel.slice(0, i), true)) return true;
    }
    return matchesAny(rel, isDir);
  };
  const frozen = Object.freeze([...patterns]);
  return {
    patterns: frozen,
    matchesPaths: rules.some((r) => !r.basename),
    isExcluded,
    rsyncArgs: () => frozen.map((p) => `--exclude=${p}`),
  };
}
