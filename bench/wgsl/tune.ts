// `spc tune` (and the rest of the CLI) from the compiled JS in .gpu/js, for the carried Node on the
// GPU machine (bench/wgsl/tune-h200.sh): the same driver function as bin/spc.js, src/driver/cli.ts
// run(). Here: npx tsx bench/wgsl/tune.ts tune FILE --target wgsl --seq N ... (the same as npx spc).
// Exits when run() returns (Dawn's threads would keep the process alive).
import { run } from '../../src/driver/cli.js';

const code = await run(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
});
process.stdout.write('', () => process.exit(code));
