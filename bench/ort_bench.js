#!/usr/bin/env node
// Times an ONNX model in onnxruntime-node (CPU provider), for bench/cpu_bench.py.
//
//   node ort_bench.js model.onnx --input NAME=FILE.npy ... [--threads T] [--runs N]
//        [--warmup W] [--output-dir DIR] [--ort DIR]
//
// Loads the model with T intra-op threads (default 2) and one inter-op thread (sequential
// execution, all graph optimizations), runs it W times (default 1) untimed, then N times
// (default 10) timed one by one, and prints, like `sqz-run --bench`:
//
//   load <v> ms
//   bench: <N> runs after <W> warm-up runs
//   min <v> ms
//   median <v> ms
//   max <v> ms
//
// With --output-dir, the outputs of the first run are written as DIR/<name>.npy (characters
// other than `A-Z a-z 0-9 . _ -` in the name become `_`). onnxruntime-node is looked up in
// --ort DIR, $SQZ_ORT_DIR, <repo>/third_party/ort, <repo>/build-bench-node, then the normal
// Node.js module path. Exit 0 on success, 2 on any error.
'use strict';

const fs = require('fs');
const path = require('path');

function die(msg) {
  process.stderr.write(`ort_bench: error: ${msg}\n`);
  process.exit(2);
}

// NumPy descr -> [onnxruntime tensor type, typed-array constructor, bytes per element]
const NPY_TYPES = {
  '<f4': ['float32', Float32Array, 4],
  '<f8': ['float64', Float64Array, 8],
  '<i8': ['int64', BigInt64Array, 8],
  '<i4': ['int32', Int32Array, 4],
  '|b1': ['bool', Uint8Array, 1],
  '|u1': ['uint8', Uint8Array, 1],
  '|i1': ['int8', Int8Array, 1],
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') die(`'${file}' is not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const offset = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', offset, offset + headerLen);
  const descr = (header.match(/'descr'\s*:\s*'([^']*)'/) || [])[1];
  const shapeM = header.match(/'shape'\s*:\s*\(([^)]*)\)/);
  if (/'fortran_order'\s*:\s*True/.test(header)) die(`'${file}': fortran_order is not supported`);
  const info = NPY_TYPES[descr === '?' ? '|b1' : descr];
  if (!info || !shapeM) die(`'${file}': unsupported .npy header ${header}`);
  const dims = shapeM[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const start = offset + headerLen;
  if (buf.length - start !== count * info[2]) die(`'${file}': data size does not match its shape`);
  const ab = new ArrayBuffer(count * info[2]);
  new Uint8Array(ab).set(buf.subarray(start));
  return { type: info[0], data: new info[1](ab), dims };
}

const DESCR = { float32: ['<f4', 4], float64: ['<f8', 8], int64: ['<i8', 8], int32: ['<i4', 4],
                bool: ['|b1', 1], uint8: ['|u1', 1], int8: ['|i1', 1] };

function writeNpy(file, type, dims, data) {
  const t = DESCR[type];
  if (!t) die(`cannot write an output of type '${type}'`);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${t[0]}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre.writeUInt16LE(header.length, 8);
  const bytes = type === 'bool' ? Buffer.from(Uint8Array.from(data, (v) => (v ? 1 : 0)).buffer)
                                : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), bytes]));
}

function loadOrt(explicitDir) {
  const root = path.resolve(__dirname, '..');
  const dirs = [explicitDir, process.env.SQZ_ORT_DIR, path.join(root, 'third_party', 'ort'),
                path.join(root, 'build-bench-node')].filter((d) => d);
  for (const dir of dirs) {
    const mod = path.join(dir, 'node_modules', 'onnxruntime-node');
    if (fs.existsSync(mod)) return require(mod);
  }
  try {
    return require('onnxruntime-node');
  } catch (e) {
    die(`onnxruntime-node not found (looked in ${dirs.join(', ')})`);
  }
}

async function main() {
  const args = process.argv.slice(2);
  let model = null, outDir = null, ortDir = null, threads = 2, runs = 10, warmup = 1;
  const inputs = [];
  for (let i = 0; i < args.length; ++i) {
    const a = args[i];
    const next = () => {
      if (i + 1 >= args.length) die(`${a} needs a value`);
      return args[++i];
    };
    const int = (v) => {
      if (!/^\d+$/.test(v)) die(`${a} needs a non-negative integer, got '${v}'`);
      return Number(v);
    };
    if (a === '--input') inputs.push(next());
    else if (a === '--threads') threads = int(next());
    else if (a === '--runs') runs = int(next());
    else if (a === '--warmup') warmup = int(next());
    else if (a === '--output-dir') outDir = next();
    else if (a === '--ort') ortDir = next();
    else if (a.startsWith('--')) die(`unknown option ${a}`);
    else if (model === null) model = a;
    else die(`unexpected argument ${a}`);
  }
  if (!model) die('usage: ort_bench.js model.onnx --input NAME=FILE.npy ... [--threads T] [--runs N]');
  const ort = loadOrt(ortDir);

  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const feeds = {};
  for (const spec of inputs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) die(`--input expects NAME=FILE.npy, got '${spec}'`);
    const name = spec.slice(0, eq);
    if (!session.inputNames.includes(name))
      die(`'${name}' is not an input of the model (inputs: ${session.inputNames.join(', ')})`);
    const t = readNpy(spec.slice(eq + 1));
    feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
  }
  for (const name of session.inputNames) if (!(name in feeds)) die(`missing --input for '${name}'`);

  for (let i = 0; i < Math.max(warmup, outDir ? 1 : 0); ++i) {
    const results = await session.run(feeds);
    if (i === 0 && outDir) {
      fs.mkdirSync(outDir, { recursive: true });
      for (const name of session.outputNames) {
        const r = results[name];
        writeNpy(path.join(outDir, name.replace(/[^A-Za-z0-9._-]/g, '_') + '.npy'), r.type, r.dims, r.data);
      }
    }
  }
  const times = [];
  for (let i = 0; i < runs; ++i) {
    const s = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  times.sort((a, b) => a - b);
  const median = times.length % 2 ? times[(times.length - 1) / 2]
                                  : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
  process.stdout.write(`load ${loadMs.toFixed(1)} ms\n`);
  process.stdout.write(`bench: ${runs} runs after ${warmup} warm-up runs\n`);
  if (runs > 0)
    process.stdout.write(`min ${times[0].toFixed(3)} ms\nmedian ${median.toFixed(3)} ms\n` +
                         `max ${times[times.length - 1].toFixed(3)} ms\n`);
}

main().catch((e) => die(e && e.message ? e.message : String(e)));
