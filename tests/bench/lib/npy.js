// Minimal .npy reader/writer for the bench scripts (C order only; v1/v2/v3 headers).
'use strict';
const fs = require('fs');

const DESCR = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
  '|u1': ['uint8', Uint8Array], '|i1': ['int8', Int8Array], '<i4': ['int32', Int32Array],
  '<i8': ['int64', BigInt64Array], '|b1': ['bool', Uint8Array],
};

function parseHeader(text, file) {
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) throw new Error(`${file}: malformed .npy header`);
  if (fortran[1] === 'True') throw new Error(`${file}: Fortran-order arrays are not supported`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${file}: bad shape`);
  return { descr: descr[1], dims };
}

// -> { dtype: 'float32'|..., dims: [..], data: TypedArray }
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY')
    throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + hlen;
  if (start > buf.length) throw new Error(`${file}: truncated header`);
  const { descr, dims } = parseHeader(buf.toString('latin1', major === 1 ? 10 : 12, start), file);
  const t = DESCR[descr];
  if (!t) throw new Error(`${file}: dtype ${descr} not supported`);
  const n = dims.reduce((a, b) => a * b, 1);
  const bytes = n * t[1].BYTES_PER_ELEMENT;
  if (start + bytes > buf.length)
    throw new Error(`${file}: truncated data (${buf.length - start} of ${bytes} bytes)`);
  const copy = new Uint8Array(bytes);
  copy.set(buf.subarray(start, start + bytes));
  return { dtype: t[0], dims, data: new t[1](copy.buffer) };
}

function writeNpy(file, dtype, dims, data) {
  const descr = Object.keys(DESCR).find((k) => DESCR[k][0] === dtype);
  if (!descr) throw new Error(`writeNpy: dtype ${dtype} not supported`);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const pad = 64 - ((10 + h.length + 1) % 64);
  h += ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(h.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(h, 'latin1'), body]));
}

module.exports = { readNpy, writeNpy };
