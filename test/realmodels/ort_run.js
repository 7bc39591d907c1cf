#!/usr/bin/env node
// Runs an ONNX model in onnxruntime-node (the reference runtime of the real-model tests) on
// inputs read from .npy files and writes every output as DIR/<name>.npy.
//
//   node ort_run.js model.onnx --input NAME=FILE.npy ... [--output-dir DIR] [--ort DIR]
//                   [--accuracy-level N]
//
// onnxruntime-node is looked up in --ort DIR, $SQZ_ORT_DIR, <repo>/third_party/ort, then the
// normal Node.js module path. The session uses the CPU provider with one intra-op and one
// inter-op thread (deterministic reductions). `--accuracy-level N` sets onnxruntime's
// session.qdq_matmulnbits_accuracy_level: it rewrites a block-wise DequantizeLinear -> MatMul into
// MatMulNBits with level 4 by default, which quantizes the activations to int8 and is ~1e-2 away
// from the ONNX semantics; level 0 computes in float. In output file names, characters other than
// `A-Z a-z 0-9 . _ -` become `_`, as in sqz-run. Exit 0 on success, 2 on any error.
'use strict';

const fs = require('fs');
const path = require('path');

// Also a module: bench/ort_bench.js uses its .npy reader/writer and onnxruntime lookup.
function die(msg) {
  process.stderr.write(`${path.basename(process.argv[1] || 'ort_run', '.js')}: error: ${msg}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// .npy (NumPy format 1.0/2.0/3.0, little-endian, C order)

// NumPy descr -> [onnxruntime tensor type, typed-array constructor, bytes per element]
const NPY_TYPES = {
  '<f4': ['float32', Float32Array, 4],
  '<f8': ['float64', Float64Array, 8],
  '<f2': ['float16', Uint16Array, 2],
  '<i8': ['int64', BigInt64Array, 8],
  '<i4': ['int32', Int32Array, 4],
  '<i2': ['int16', Int16Array, 2],
  '|i1': ['int8', Int8Array, 1],
  '<u8': ['uint64', BigUint64Array, 8],
  '<u4': ['uint32', Uint32Array, 4],
  '<u2': ['uint16', Uint16Array, 2],
  '|u1': ['uint8', Uint8Array, 1],
  '|b1': ['bool', Uint8Array, 1],
};

function normalizeDescr(d) {
  if (d === '?' || d === 'b1' || d === '|b1' || d === '<b1' || d === '=b1') return '|b1';
  if (/^[<=|]?[iu]1$/.test(d)) return '|' + d.slice(-2);
  if (/^[=|][fiu][248]$/.test(d)) return '<' + d.slice(1);
  if (/^[fiu][248]$/.test(d)) return '<' + d;
  return d;
}

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY')
    die(`'${file}' is not a .npy file`);
  const major = buf[6];
  let headerLen, offset;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    offset = 10;
  } else if (major === 2 || major === 3) {
    headerLen = buf.readUInt32LE(8);
    offset = 12;
  } else {
    die(`'${file}': unsupported .npy version ${major}`);
  }
  const header = buf.toString('latin1', offset, offset + headerLen);
  const descrM = header.match(/'descr'\s*:\s*'([^']*)'/);
  const fortranM = header.match(/'fortran_order'\s*:\s*(True|False)/);
  const shapeM = header.match(/'shape'\s*:\s*\(([^)]*)\)/);
  if (!descrM || !fortranM || !shapeM) die(`'${file}': malformed .npy header ${header}`);
  const descr = normalizeDescr(descrM[1]);
  const info = NPY_TYPES[descr];
  if (!info) die(`'${file}': unsupported dtype '${descrM[1]}'`);
  const shape = shapeM[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  if (fortranM[1] === 'True' && shape.filter((d) => d > 1).length > 1)
    die(`'${file}': fortran_order arrays are not supported`);
  const dataOff = offset + headerLen;
  const nbytes = count * info[2];
  if (buf.length - dataOff !== nbytes)
    die(`'${file}': expected ${nbytes} data bytes, found ${buf.length - dataOff}`);
  // Copy into an aligned buffer.
  const ab = new ArrayBuffer(nbytes);
  new Uint8Array(ab).set(buf.subarray(dataOff, dataOff + nbytes));
  let data = new info[1](ab);
  if (info[0] === 'bool') data = new Uint8Array(ab);
  return { type: info[0], data, dims: shape };
}

const ORT_TO_DESCR = {
  float32: ['<f4', 4], float64: ['<f8', 8], float16: ['<f2', 2], int64: ['<i8', 8],
  int32: ['<i4', 4], int16: ['<i2', 2], int8: ['|i1', 1], uint64: ['<u8', 8],
  uint32: ['<u4', 4], uint16: ['<u2', 2], uint8: ['|u1', 1], bool: ['|b1', 1],
};

function writeNpy(file, type, dims, data) {
  const t = ORT_TO_DESCR[type];
  if (!t) die(`cannot write output of type '${type}' as .npy`);
  const shapeStr = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${t[0]}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  // Pad so that the data starts at a multiple of 64 (magic 6 + version 2 + length 2).
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  let bytes;
  if (type === 'float16' && data instanceof Float32Array) die('float16 output came back as float32');
  if (type === 'bool') bytes = Buffer.from(Uint8Array.from(data, (v) => (v ? 1 : 0)).buffer);
  else bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== count * t[1]) die(`output size mismatch for ${file}`);
  const tmp = file + '.tmp';
  fs.writeFileSync(tmp, Buffer.concat([pre, Buffer.from(header, 'latin1'), bytes]));
  fs.renameSync(tmp, file);
}

// ---------------------------------------------------------------------------------------------

/// onnxruntime-node from `explicitDir`, $SQZ_ORT_DIR, <repo>/third_party/ort, `extraDirs`, then
/// the Node.js module path.
function loadOrt(explicitDir, extraDirs = []) {
  const candidates = [];
  if (explicitDir) candidates.push(explicitDir);
  if (process.env.SQZ_ORT_DIR) candidates.push(process.env.SQZ_ORT_DIR);
  candidates.push(path.resolve(__dirname, '..', '..', 'third_party', 'ort'));
  candidates.push(...extraDirs);
  for (const dir of candidates) {
    const mod = path.join(dir, 'node_modules', 'onnxruntime-node');
    if (fs.existsSync(mod)) return require(mod);
  }
  try {
    return require('onnxruntime-node');
  } catch (e) {
    die(`onnxruntime-node not found (looked in ${candidates.join(', ')}); run scripts/setup.sh`);
  }
}

async function main() {
  const args = process.argv.slice(2);
  let model = null, outDir = '.', ortDir = null, accuracyLevel = null;
  const inputs = [];
  for (let i = 0; i < args.length; ++i) {
    const a = args[i];
    const next = () => {
      if (i + 1 >= args.length) die(`${a} needs a value`);
      return args[++i];
    };
    if (a === '--input') inputs.push(next());
    else if (a === '--output-dir') outDir = next();
    else if (a === '--ort') ortDir = next();
    else if (a === '--accuracy-level') {
      accuracyLevel = next();
      if (!/^[0-4]$/.test(accuracyLevel))
        die(`--accuracy-level expects 0, 1, 2, 3 or 4, got '${accuracyLevel}'`);
    } else if (a.startsWith('--')) die(`unknown option ${a}`);
    else if (model === null) model = a;
    else die(`unexpected argument ${a}`);
  }
  if (!model) die('usage: ort_run.js model.onnx --input NAME=FILE.npy ... [--output-dir DIR] [--ort DIR] [--accuracy-level N]');
  const ort = loadOrt(ortDir);

  const options = {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  if (accuracyLevel !== null)
    options.extra = { session: { qdq_matmulnbits_accuracy_level: accuracyLevel } };
  const session = await ort.InferenceSession.create(model, options);
  const feeds = readFeeds(ort, session, inputs);

  const results = await session.run(feeds);
  for (const [name, r, file] of writeOutputs(session, results, outDir))
    process.stdout.write(`wrote ${name} ${r.type}[${r.dims.join(',')}] -> ${file}\n`);
}

/// The session's feeds from `--input NAME=FILE.npy` specs (every input required).
function readFeeds(ort, session, specs) {
  const feeds = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) die(`--input expects NAME=FILE.npy, got '${spec}'`);
    const name = spec.slice(0, eq);
    if (!session.inputNames.includes(name))
      die(`'${name}' is not an input of the model (inputs: ${session.inputNames.join(', ')})`);
    const t = readNpy(spec.slice(eq + 1));
    let data = t.data;
    if (t.type === 'bool') data = Uint8Array.from(data, (v) => (v ? 1 : 0));
    feeds[name] = new ort.Tensor(t.type, data, t.dims);
  }
  for (const name of session.inputNames)
    if (!(name in feeds)) die(`missing --input for '${name}'`);
  return feeds;
}

/// Writes every output of `results` as DIR/<name>.npy (characters other than
/// `A-Z a-z 0-9 . _ -` become `_`); returns [name, tensor, file] per output.
function writeOutputs(session, results, outDir) {
  fs.mkdirSync(outDir, { recursive: true });
  const written = [];
  for (const name of session.outputNames) {
    const r = results[name];
    const file = path.join(outDir, name.replace(/[^A-Za-z0-9._-]/g, '_') + '.npy');
    let data = r.data;
    // float16 tensors may come back as Uint16Array (raw bits) or Float16Array.
    if (r.type === 'float16' && !(data instanceof Uint16Array))
      data = new Uint16Array(data.buffer, data.byteOffset, data.length);
    writeNpy(file, r.type, r.dims, data);
    written.push([name, r, file]);
  }
  return written;
}

module.exports = { die, readNpy, writeNpy, loadOrt, readFeeds, writeOutputs };

if (require.main === module) main().catch((e) => die(e && e.message ? e.message : String(e)));
