#!/usr/bin/env node
// Runs an ONNX model with ONNX Runtime (CPU) on .npy inputs and writes each output as <outdir>/<name>.npy.
// Usage: node run_model.js MODEL.onnx OUTDIR NAME=FILE.npy [NAME=FILE.npy ...]
// The independent checker of QuantSharp's exports; errors are one line on stderr with exit code 1.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

// numpy dtype descriptor <-> ONNX Runtime tensor type and typed array.
const DTYPES = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
  '|i1': ['int8', Int8Array], '|u1': ['uint8', Uint8Array],
  '<i2': ['int16', Int16Array], '<u2': ['uint16', Uint16Array],
  '<i4': ['int32', Int32Array], '<i8': ['int64', BigInt64Array], '|b1': ['bool', Uint8Array],
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file (bad magic)`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !DTYPES[descr]) throw new Error(`${file}: unsupported dtype '${descr}'`);
  if (fortran !== 'False') throw new Error(`${file}: fortran_order arrays are not supported`);
  const dims = shapeText.split(',').map(s => s.trim()).filter(s => s.length > 0).map(Number);
  const [type, Ctor] = DTYPES[descr];
  const offset = start + headerLen;
  const bytes = buf.subarray(offset);
  const data = new Ctor(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  return new ort.Tensor(type, type === 'bool' ? Uint8Array.from(data).map(v => v !== 0) : data, dims);
}

function writeNpy(file, tensor) {
  const entry = Object.entries(DTYPES).find(([, [t]]) => t === tensor.type);
  if (!entry) throw new Error(`output type ${tensor.type} cannot be written as .npy`);
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let header = `{'descr': '${entry[0]}', 'fortran_order': False, 'shape': ${shape}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header = header + ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1'); head[6] = 1; head[7] = 0; head.writeUInt16LE(header.length, 8);
  const data = tensor.type === 'bool' ? Buffer.from(Uint8Array.from(tensor.data, v => (v ? 1 : 0))) : Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  const tmp = file + '.tmp';
  fs.writeFileSync(tmp, Buffer.concat([head, Buffer.from(header, 'latin1'), data]));
  fs.renameSync(tmp, file);
}

async function main() {
  const [model, outdir, ...pairs] = process.argv.slice(2);
  if (!model || !outdir) throw new Error('usage: node run_model.js MODEL.onnx OUTDIR NAME=FILE.npy ...');
  const feeds = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new Error(`input '${p}' expected NAME=FILE.npy`);
    feeds[p.slice(0, eq)] = readNpy(p.slice(eq + 1));
  }
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
  const results = await session.run(feeds);
  fs.mkdirSync(outdir, { recursive: true });
  for (const [name, tensor] of Object.entries(results)) writeNpy(path.join(outdir, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.npy`), tensor);
}

main().catch(e => { process.stderr.write(`ort: ${e.message.split('\n')[0]}\n`); process.exit(1); });
