/** Loaded before every test file: a process warning is a failure (CI treats warnings as errors). */
process.on('warning', (warning) => {
  if (warning.name === 'ExperimentalWarning') return; // Node 24's own notice about type stripping
  process.exitCode = 1;
  process.stderr.write(`test failed: process warning: ${warning.name}: ${warning.message}\n`);
  throw warning;
});
