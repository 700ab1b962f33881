/**
 * The exclude language: a table of rsync rules, validation, and a real rsync run proving that rsync and
 * isExcluded() agree on every path of a sample tree with the very same --exclude arguments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Buffer } from 'node:buffer';
import { lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileExcludes, validateExclude } from '../../src/watch/exclude.ts';
import { tempTree } from './watch-helpers.ts';

// [pattern, path, isDir, excluded]
const TABLE: Array<[string, string, boolean, boolean]> = [
  // no '/': the last component, at any depth
  ['*.log', 'x.log', false, true],
  ['*.log', 'a/b/x.log', false, true],
  ['*.log', 'a/b/x.log.1', false, false],
  ['core', 'deep/er/core', false, true],
  ['core', 'deep/core/file', false, true], // a parent directory matches
  // trailing '/': directories only
  ['node_modules/', 'a/node_modules', true, true],
  ['node_modules/', 'a/node_modules', false, false],
  ['node_modules/', 'a/node_modules/x/y.js', false, true],
  // leading '/': anchored at the root
  ['/build', 'build', true, true],
  ['/build', 'src/build', true, false],
  ['/a/b', 'a/b', false, true],
  ['/a/b', 'x/a/b', false, false],
  // inner '/': full path, any trailing portion starting after a '/'
  ['a/b', 'a/b', false, true],
  ['a/b', 'x/a/b', false, true],
  ['a/b', 'xa/b', false, false],
  ['a/*.c', 'q/a/m.c', false, true],
  ['a/*.c', 'a/s/m.c', false, false],
  // '*' stays within a component, '**' crosses '/'
  ['a*b', 'a/b', false, false],
  ['a**b', 'a/x/b', false, true],
  ['deep/**/x', 'deep/1/2/x', false, true],
  ['deep/**/x', 'deep/x', false, false],
  ['deep/**/x', 'p/deep/1/x', false, true],
  // a leading '**' may match nothing; an anchored one may not
  ['**/foo', 'foo', false, true],
  ['**/foo', 'a/b/foo', false, true],
  ['/**/foo', 'foo', false, false],
  ['/**/foo', 'a/foo', false, true],
  // 'dir/***': the directory itself and everything in it
  ['z/***', 'z', true, true],
  ['z/***', 'z/q', false, true],
  ['z/***', 'z', false, false],
  ['z/**', 'z', true, false],
  // '?' and classes never match '/'
  ['a?c', 'abc', false, true],
  ['a?c', 'a/c', false, false],
  ['[a-c]?.dat', 'b1.dat', false, true],
  ['[a-c]?.dat', 'd1.dat', false, false],
  ['[!a-c]*', 'd', false, true],
  ['[^a-c]*', 'a', false, false],
  ['*[[:digit:]]', 'v2', false, true],
  ['*[[:digit:]]', 'v', false, false],
  ['[]x]', ']', false, true],
  ['a[/]b', 'a/b', false, false],
  // backslash escapes only in wildcard patterns
  ['br\\[ack*', 'br[acket', false, true],
  ['plain\\x', 'plain\\x', false, true],
  // bytes, not characters
  ['*byte', 'ok/\xffbyte', false, true],
  ['été', '\xc3\xa9t\xc3\xa9', false, true],
  // the root itself is never excluded
  ['*', '', true, false],
];

test('rsync exclude rules (table)', () => {
  // patterns are command-line strings (UTF-8); paths are binary strings (one char per byte)
  for (const [pattern, path, isDir, expected] of TABLE) {
    assert.equal(compileExcludes([pattern]).isExcluded(path, isDir), expected, `${pattern} vs ${JSON.stringify(path)} (dir: ${isDir})`);
  }
});

test('matchesPaths and rsyncArgs', () => {
  assert.equal(compileExcludes(['*.log', 'tmp/']).matchesPaths, false);
  assert.equal(compileExcludes(['*.log', 'a/b']).matchesPaths, true);
  assert.equal(compileExcludes(['**.o']).matchesPaths, true);
  assert.equal(compileExcludes([]).isExcluded('anything', false), false);
  assert.deepEqual(compileExcludes(['*.log', '/x y/']).rsyncArgs(), ['--exclude=*.log', '--exclude=/x y/']);
});

test('validateExclude rejects what rsync would misread or never match', () => {
  for (const bad of ['', 'a\0b', '!', '- foo', '+ foo', '/', '//', 'x'.repeat(5000), 'a[bc', '[[:nope:]]', 'a*\\']) {
    assert.throws(() => validateExclude(bad), (err: Error & { code?: string }) => err.code === 'E_EXCLUDE_INVALID', JSON.stringify(bad));
  }
  for (const good of ['!x', '-foo', 'a b', '*.tmp', 'x/', '/top', 'new\nline', '[]]', 'a\\b']) validateExclude(good);
  assert.throws(() => compileExcludes(['ok', '']), /empty/);
});

/** Every path under root as [rel, isDir], rel a binary string. */
function listTree(root: Buffer, rel = ''): Array<[string, boolean]> {
  const out: Array<[string, boolean]> = [];
  const dir = rel === '' ? root : Buffer.concat([root, Buffer.from('/'), Buffer.from(rel, 'latin1')]);
  for (const name of readdirSync(dir, { encoding: 'latin1' })) {
    const child = rel === '' ? name : `${rel}/${name}`;
    const isDir = lstatSync(Buffer.concat([root, Buffer.from('/'), Buffer.from(child, 'latin1')])).isDirectory();
    out.push([child, isDir]);
    if (isDir) out.push(...listTree(root, child));
  }
  return out;
}

/** rsync's --out-format=%n names, '\#ooo' escapes decoded, trailing '/' of directories dropped. */
function rsyncNames(stdout: Buffer): Set<string> {
  const names = new Set<string>();
  for (const line of stdout.toString('latin1').split('\n')) {
    if (line === '' || line === './') continue;
    const decoded = line.replace(/\\#([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
    names.add(decoded.endsWith('/') ? decoded.slice(0, -1) : decoded);
  }
  return names;
}

test('rsync and isExcluded agree on a sample tree', () => {
  using tree = tempTree('w-rsync-ex');
  const src = join(tree.path, 'src');
  const files = [
    'x.log', 'a/b/x.log', 'a/b/keep.txt', 'cache/blob', 'src/cache/blob', 'top-only', 'sub/top-only',
    'k/a/b', 'q/a/b', 'deep/1/2/x', 'deep/x', 'p/deep/1/x', 'y.txt', 'm/y.txt', 'z/q', 'zz/q', 'b1.dat',
    'd1.dat', 'sp ace', 'dir/sp ace/f', 'br[ack', 'brack', 'v2', 'v', 'q/r/s/r', 'q/x/r', 'new\nline',
    '-dash', 'été', 'ok/\xffbyte', 'node_modules/pkg/i.js', 'app/node_modules', 'app/n/node_modules/f',
  ];
  const root = Buffer.from(src);
  for (const f of files) {
    const abs = Buffer.concat([root, Buffer.from('/'), Buffer.from(f, f.includes('\xff') ? 'latin1' : 'utf8')]);
    mkdirSync(abs.subarray(0, abs.lastIndexOf(0x2f)), { recursive: true });
    writeFileSync(abs, 'x');
  }
  const patterns = [
    '*.log', 'cache/', '/top-only', 'a/b', 'deep/**/x', '**/y.txt', 'z/***', '[a-c]?.dat', 'sp ace',
    'br\\[ack', '*[[:digit:]]', 'q/*/r', 'new\nline', '-dash', 'node_modules/', '*byte',
  ];
  const ex = compileExcludes(patterns);
  const out = execFileSync('rsync', ['-a', '--dry-run', '--out-format=%n', ...ex.rsyncArgs(), `${src}/`, join(tree.path, 'dst')]);
  const fromRsync = rsyncNames(out);
  const expected = new Set(listTree(root).filter(([rel, isDir]) => !ex.isExcluded(rel, isDir)).map(([rel]) => rel));
  assert.deepEqual([...fromRsync].sort(), [...expected].sort());
  assert.ok(expected.size > 10 && expected.size < listTree(root).length, 'the sample must exclude some and keep some');
});
