// Tiny option parser: --key value, --flag, repeated keys collect into arrays.
'use strict';
function parseArgs(argv, flags, multi) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) { out._.push(a); continue; }
    const k = a.slice(2);
    if (flags.includes(k)) { out[k] = true; continue; }
    if (i + 1 >= argv.length) throw new Error(`option ${a} needs a value`);
    const v = argv[++i];
    if (multi.includes(k)) (out[k] = out[k] || []).push(v);
    else out[k] = v;
  }
  return out;
}
module.exports = { parseArgs };
