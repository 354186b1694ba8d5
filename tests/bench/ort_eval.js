// Usage: node tests/bench/ort_eval.js MODEL.onnx [--project P.json] [--preds PRED.npy|.txt]
//        [--save-preds OUT.npy] [--limit N] [--batch B] [--json] — ONNX Runtime's top-1 of MODEL
//        on the Fashion-MNIST test set (IDX files and preprocessing from the project, default
//        examples/fashion-mnist/project.json), and its agreement with a predictions file
//        (int labels, one per sample: .npy int64/int32 or text one per line). Exit 1 on error.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { readNpy, writeNpy } = require('./lib/npy');
const { loadOrt, openSession } = require('./lib/ort');
const { parseArgs } = require('./lib/args');

function readIdx(file) {
  let buf = fs.readFileSync(file);
  if (file.endsWith('.gz')) buf = zlib.gunzipSync(buf);
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 0x08)
    throw new Error(`${file}: not a uint8 IDX file`);
  const nd = buf[3];
  const dims = [];
  for (let i = 0; i < nd; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  const n = dims.reduce((a, b) => a * b, 1);
  const off = 4 + 4 * nd;
  if (buf.length < off + n) throw new Error(`${file}: truncated (${buf.length - off} of ${n} bytes)`);
  return { dims, data: buf.subarray(off, off + n) };
}

function readPreds(file) {
  if (file.endsWith('.npy')) {
    const a = readNpy(file);
    return Array.from(a.data, Number);
  }
  return fs.readFileSync(file, 'utf8').split(/\s+/).filter((s) => s.length).map(Number);
}

async function main() {
  const o = parseArgs(process.argv.slice(2), ['json'], []);
  if (o._.length !== 1) {
    console.error('usage: node ort_eval.js MODEL.onnx [--project P.json] [--preds F] [--save-preds F] [--limit N] [--batch B] [--json]');
    process.exit(2);
  }
  const projFile = o.project || path.join(__dirname, '..', '..', 'examples', 'fashion-mnist', 'project.json');
  const proj = JSON.parse(fs.readFileSync(projFile, 'utf8'));
  const d = proj.data || {};
  const base = path.dirname(projFile);
  const resolve = (p) => (path.isAbsolute(p) ? p : path.join(base, p));
  if (d.format !== 'idx') throw new Error(`${projFile}: data.format ${d.format}: only idx is supported here`);
  const imgs = readIdx(resolve(d.path || d.inputs));
  const labs = readIdx(resolve(d.labels));
  const pp = d.preprocessing || {};
  const scale = pp.scale ?? 1, mean = (pp.mean || [0])[0], std = (pp.std || [1])[0];
  let n = imgs.dims[0];
  if (labs.dims[0] !== n) throw new Error(`${n} images but ${labs.dims[0]} labels`);
  if (o.limit) n = Math.min(n, Number(o.limit));
  const per = imgs.data.length / imgs.dims[0];

  const ort = loadOrt();
  const sess = await openSession(ort, o._[0], 1);
  const meta = sess.inputMetadata[0];
  const shape = meta.shape.slice();
  let batch = Number(o.batch || 100);
  if (typeof shape[0] === 'number' && shape[0] > 0) batch = shape[0];
  const tail = shape.slice(1).map((s) => (typeof s === 'number' ? s : NaN));
  if (tail.some(Number.isNaN) || tail.reduce((a, b) => a * b, 1) !== per)
    throw new Error(`model input ${meta.name} shape [${shape}] does not hold ${per} values per sample`);

  const pred = new BigInt64Array(n);
  let correct = 0;
  for (let s = 0; s < n; s += batch) {
    const b = Math.min(batch, n - s);
    const rows = typeof shape[0] === 'number' ? batch : b;
    const x = new Float32Array(rows * per);
    for (let i = 0; i < b * per; i++)
      x[i] = (Math.fround(imgs.data[s * per + i] * Math.fround(scale)) - Math.fround(mean)) / Math.fround(std);
    const out = await sess.run({ [meta.name]: new ort.Tensor('float32', x, [rows, ...tail]) });
    const y = out[sess.outputNames[0]];
    const classes = y.type === 'int64' || y.type === 'int32'; // the model ends in ArgMax
    const k = y.dims[y.dims.length - 1];
    for (let i = 0; i < b; i++) {
      let best = 0;
      if (classes) best = Number(y.data[i]);
      else for (let c = 1; c < k; c++) if (y.data[i * k + c] > y.data[i * k + best]) best = c;
      pred[s + i] = BigInt(best);
      if (best === labs.data[s + i]) correct++;
    }
  }
  const res = { model: o._[0], samples: n, correct, top1: (100 * correct) / n };
  if (o.preds) {
    const p = readPreds(o.preds);
    if (p.length < n) throw new Error(`${o.preds}: ${p.length} predictions for ${n} samples`);
    let agree = 0;
    for (let i = 0; i < n; i++) if (Number(pred[i]) === p[i]) agree++;
    res.agree = agree;
    res.agreement = (100 * agree) / n;
  }
  if (o['save-preds']) writeNpy(o['save-preds'], 'int64', [n], pred);
  if (o.json) console.log(JSON.stringify(res));
  else {
    let line = `ORT top-1 ${res.top1.toFixed(2)}% (${correct}/${n})`;
    if (o.preds) line += `; agreement with ${o.preds} ${res.agreement.toFixed(2)}% (${res.agree}/${n})`;
    console.log(line);
  }
}

main().catch((e) => { console.error(`ort_eval: ${e.message}`); process.exit(1); });
