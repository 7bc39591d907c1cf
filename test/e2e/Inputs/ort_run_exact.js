#!/usr/bin/env node
// test/realmodels/ort_run.js with onnxruntime's DequantizeLinear -> MatMul fusion kept exact:
// onnxruntime rewrites a block-wise DQ -> MatMul into MatMulNBits with accuracy_level 4 by
// default (session.qdq_matmulnbits_accuracy_level), which quantizes the activations to int8 and
// is ~1e-2 away from the ONNX semantics; level 0 computes in float. Same arguments as ort_run.js.
'use strict';

const path = require('path');
const { die, loadOrt, readFeeds, writeOutputs } =
    require(path.join(__dirname, '..', '..', 'realmodels', 'ort_run.js'));

async function main() {
  const args = process.argv.slice(2);
  let model = null, outDir = '.', ortDir = null;
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
    else if (a.startsWith('--')) die(`unknown option ${a}`);
    else model = a;
  }
  if (!model) die('usage: ort_run_exact.js model.onnx --input NAME=FILE.npy ... [--output-dir DIR]');
  const ort = loadOrt(ortDir);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    extra: { session: { qdq_matmulnbits_accuracy_level: '0' } },
  });
  const feeds = readFeeds(ort, session, inputs);
  const results = await session.run(feeds);
  for (const [name, r, file] of writeOutputs(session, results, outDir))
    process.stdout.write(`wrote ${name} ${r.type}[${r.dims.join(',')}] -> ${file}\n`);
}

main().catch((e) => die(e && e.message ? e.message : String(e)));
