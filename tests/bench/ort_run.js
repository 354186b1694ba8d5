// Usage: node tests/bench/ort_run.js MODEL.onnx --in X.npy|X.f32:1x1x28x28 ... [--runs 20]
//        [--warmup 3] [--threads 1] [--out DIR] — runs MODEL in ONNX Runtime (intra 1, inter 1
//        by default) on the given inputs (graph input order), prints one JSON line with median,
//        p10, p90 latency in ms, the median CPU time per run (cpu_median_ms: user + system of
//        the whole process over the run, process.cpuUsage(), so it includes any thread ORT
//        starts) and output shapes; --out writes output_K.npy for comparison.
'use strict';
const fs = require('fs');
const path = require('path');
const { readNpy, writeNpy } = require('./lib/npy');
const { loadOrt, openSession } = require('./lib/ort');
const { parseArgs } = require('./lib/args');

function readInput(ort, spec) {
  const m = /^(.*\.(f32|bin)):([0-9x]+)$/.exec(spec);
  if (m) {
    const dims = m[3].split('x').map(Number);
    const buf = fs.readFileSync(m[1]);
    const n = dims.reduce((a, b) => a * b, 1);
    if (buf.length !== n * 4) throw new Error(`${m[1]}: ${buf.length} bytes, shape needs ${n * 4}`);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(i * 4);
    return new ort.Tensor('float32', data, dims);
  }
  const a = readNpy(spec);
  const type = a.dtype === 'float64' ? 'float64' : a.dtype;
  return new ort.Tensor(type, a.data, a.dims);
}

function pct(sorted, p) {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))));
  return sorted[i];
}

async function main() {
  const o = parseArgs(process.argv.slice(2), [], ['in']);
  if (o._.length !== 1 || !o.in) {
    console.error('usage: node ort_run.js MODEL.onnx --in X.npy ... [--runs N] [--warmup N] [--threads T] [--out DIR]');
    process.exit(2);
  }
  const ort = loadOrt();
  const sess = await openSession(ort, o._[0], Number(o.threads || 1));
  if (o.in.length !== sess.inputNames.length)
    throw new Error(`model has ${sess.inputNames.length} inputs (${sess.inputNames}), got ${o.in.length}`);
  const feeds = {};
  sess.inputNames.forEach((n, i) => { feeds[n] = readInput(ort, o.in[i]); });
  const runs = Number(o.runs || 20), warmup = Number(o.warmup || 3);
  let out = null;
  for (let i = 0; i < warmup; i++) out = await sess.run(feeds);
  const times = [], cpu = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    out = await sess.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const dc = process.cpuUsage(c0);
    cpu.push((dc.user + dc.system) / 1e3);
  }
  if (!out) out = await sess.run(feeds);
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const res = {
    engine: 'onnxruntime-node',
    model: o._[0],
    runs,
    median_ms: times.length ? pct(times, 50) : null,
    p10_ms: times.length ? pct(times, 10) : null,
    p90_ms: times.length ? pct(times, 90) : null,
    cpu_median_ms: cpu.length ? pct(cpu, 50) : null,
    outputs: [],
  };
  if (o.out) fs.mkdirSync(o.out, { recursive: true });
  sess.outputNames.forEach((n, k) => {
    const t = out[n];
    const entry = { name: n, type: t.type, shape: t.dims };
    if (o.out) {
      entry.file = path.join(o.out, `output_${k}.npy`);
      writeNpy(entry.file, t.type, t.dims, t.data);
    }
    res.outputs.push(entry);
  });
  console.log(JSON.stringify(res));
}

main().catch((e) => { console.error(`ort_run: ${e.message}`); process.exit(1); });
