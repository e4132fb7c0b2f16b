// Preloaded with `node --require` by test/e2e/lazy-native.test.ts: lists every native addon the process
// loads (process.dlopen, what require() of a .node file calls) on stderr when it exits.
'use strict';
const loaded = [];
const dlopen = process.dlopen;
process.dlopen = function tracedDlopen(module, filename, ...rest) {
  loaded.push(filename);
  return dlopen.call(this, module, filename, ...rest);
};
process.on('exit', () => process.stderr.write(`\n[dlopen] ${JSON.stringify(loaded)}\n`));
