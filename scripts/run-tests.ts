/**
 * The test runner behind `npm test`: node:test over test/**\/*.test.ts (optionally one folder under test/,
 * e.g. `faults`, or one file, e.g. `test/faults/watch-limits.test.ts`). Any process warning printed by a test fails the run (--disallow-code-generation is not
 * used; warnings are turned into errors with --throw-deprecation and a warning hook in test/helpers/setup.ts).
 */
import { spawnSync } from 'node:child_process';
import { globSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unshareCommand } from '../src/sys/mount-ns.ts';

const top = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const only = process.argv[2];
const pattern = !only ? 'test/**/*.test.ts' : only.endsWith('.ts') ? only : `test/${only}/**/*.test.ts`;
const files = globSync(pattern, { cwd: top }).sort();
if (files.length === 0) {
  process.stderr.write(`no test files match ${pattern}\n`);
  process.exit(1);
}
const nodeArgs = ['--test', '--test-concurrency=1', '--throw-deprecation', '--import', './test/helpers/setup.ts', ...files];
// As root, the whole suite runs in a private mount namespace: every tmpfs/bind mount a test makes is invisible
// to the host and disappears with the namespace, even if a test crashes. Not root: root-only tests skip, saying why.
const isRoot = process.getuid?.() === 0;
const ns = unshareCommand([process.execPath, ...nodeArgs]);
const [cmd, args, env] = isRoot ? [ns.file, ns.args, ns.env] : [process.execPath, nodeArgs, process.env];
// A guard on the whole suite: a test that let rsync write through a path that resolved where it should not (a
// target unmounted under it once resolved to "/") leaves entries in the root directory; the run fails on them.
const rootBefore = new Set(readdirSync('/'));
const result = spawnSync(cmd, args, { cwd: top, stdio: 'inherit', env });
const strays = readdirSync('/').filter((n) => !rootBefore.has(n));
if (strays.length > 0) {
  process.stderr.write(`the test run left new entries in / (a write went through a path that resolved to the root): ${JSON.stringify(strays)}\n`);
  process.exit(1);
}
process.exit(result.status ?? 1);
