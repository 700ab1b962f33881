/**
 * `npm run bench [section...]`: every benchmark, side by side with its anchors in the same run. As root it
 * re-executes itself inside `unshare --mount --propagation private` so its tmpfs mounts never touch the host.
 * Prints markdown tables (copied into docs/benchmarks.md) and writes bench/last-run.md.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { inPrivateMountNs, unshareCommand } from '../src/sys/mount-ns.ts';
import { fileURLToPath } from 'node:url';

const sections: Record<string, () => Promise<string>> = {
  mirror: async () => (await import('./mirror.ts')).benchMirror(),
  watch: async () => (await import('./watch.ts')).benchWatchTable(),
  status: async () => (await import('./status.ts')).benchStatus(),
  verify: async () => (await import('./verify.ts')).benchVerify(),
  faults: async () => (await import('./faults.ts')).benchFaults(),
  proc: async () => (await import('./proc.ts')).benchProc(),
  cutover: async () => (await import('./cutover.ts')).benchCutover(),
  seed: async () => (await import('./seed.ts')).benchSeed(),
};


if (process.getuid?.() !== 0) {
  process.stderr.write('bench: needs root (tmpfs mounts in a private mount namespace)\n');
  process.exit(3);
}
if (!inPrivateMountNs()) {
  const ns = unshareCommand([process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)]);
  const res = spawnSync(ns.file, ns.args, { stdio: 'inherit', env: ns.env });
  process.exit(res.status ?? 1);
}
const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(sections);
const out: string[] = [`# livesync benchmarks — ${new Date().toISOString()}`, ''];
for (const name of wanted) {
  const fn = sections[name];
  if (!fn) {
    process.stderr.write(`bench: unknown section ${name} (have: ${Object.keys(sections).join(', ')})\n`);
    process.exit(2);
  }
  process.stderr.write(`bench: ${name}...\n`);
  const table = await fn();
  out.push(`## ${name}`, '', table, '');
  process.stdout.write(`## ${name}\n\n${table}\n\n`);
}
writeFileSync(new URL('./last-run.md', import.meta.url), out.join('\n'));
