//===- sqz-run.cpp - Run a compiled Squeeze artifact on .npy files --------===//
//
// sqz-run <artifact-dir> --input NAME=FILE.npy ... [--expect NAME=FILE.npy ...]
//         [--rtol R] [--atol A] [--output-dir DIR] [--bench N] [--threads N]
//         [--device cpu|cuda|cuda:N]
// sqz-run <artifact-dir> --generate N (--prompt-ids FILE.npy | --prompt TEXT) [--tokenizer F]
//         [--temperature T] [--top-k K] [--seed S] [--stop-token ID]
// sqz-run <artifact-dir> --eval-tokens FILE.npy [--window W] [--compare-to DIR]
//
// Loads the artifact through the C API, feeds it the inputs, writes every
// output as DIR/<name>.npy, and optionally compares outputs with reference
// arrays. It links only the runtime, so it runs where the compiler is not
// installed. Output lines and exit codes are a contract: see docs/Runtime.md.
//
//===----------------------------------------------------------------------===//

#include "sqz-c/sqz.h"

#include "Runtime/AlignedBuffer.h"
#include "Runtime/DType.h"
#include "Runtime/Evaluate.h"
#include "Runtime/Generate.h"
#include "Runtime/Npy.h"
#include "Runtime/Tokenizer.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace sqz::runtime;

namespace {

enum ExitCode { kExitOk = 0, kExitMismatch = 1, kExitError = 2 };

constexpr double kDefaultRtol = 1e-5;
constexpr double kDefaultAtol = 1e-6;

const char kUsage[] =
    "usage: sqz-run <artifact-dir> --input NAME=FILE.npy ...\n"
    "               [--expect NAME=FILE.npy ...] [--rtol R] [--atol A]\n"
    "               [--output-dir DIR] [--bench N]\n"
    "\n"
    "Runs a Squeeze artifact (a directory written by sqz-compile) on .npy\n"
    "inputs and writes each output to DIR/<name>.npy. A model with dynamic dims\n"
    "takes their sizes from the input files.\n"
    "\n"
    "  --input NAME=FILE    value of model input NAME; give every input once,\n"
    "                       with the dtype and shape the model declares\n"
    "  --expect NAME=FILE   compare output NAME with FILE elementwise:\n"
    "                       |got - want| <= atol + rtol * |want|\n"
    "  --rtol R             relative tolerance (default 1e-5)\n"
    "  --atol A             absolute tolerance (default 1e-6); integer and\n"
    "                       bool outputs are compared exactly unless --rtol\n"
    "                       or --atol is given\n"
    "  --output-dir DIR     where outputs are written (default: the current\n"
    "                       directory; created if missing)\n"
    "  --bench N            after the run above (the warm-up), time N more\n"
    "                       runs and print 'min', 'median' and 'max' lines,\n"
    "                       then 'load' (the time sqz_model_load took)\n"
    "  --threads N          threads of the model's parallel loops (default:\n"
    "                       all cores)\n"
    "  --device D           cpu, cuda or cuda:N (GPU N): where to run; it must\n"
    "                       be the device the artifact was compiled for\n"
    "                       (default: the manifest's). A CUDA artifact needs\n"
    "                       the NVIDIA driver (libcuda.so.1, or the file\n"
    "                       $SQZ_CUDA_DRIVER names); with --bench it also\n"
    "                       prints GPU times ('gpu ...' lines)\n"
    "  --help               print this help\n"
    "\n"
    "Decoding (decoder LMs with token ids [1, L] -> logits [1, L, vocab], L static\n"
    "or dynamic, optionally with a KV cache: past_key_values.<i>.key/value inputs\n"
    "and present.<i>.key/value outputs; see docs/Runtime.md):\n"
    "  --generate N         generate N tokens after the prompt and print them,\n"
    "                       with prefill and decode tokens/s\n"
    "  --prompt-ids FILE    the prompt: an integer .npy of token ids\n"
    "  --prompt TEXT        the prompt as text (needs --tokenizer; BOS first)\n"
    "  --tokenizer FILE     a llama2.c tokenizer (tok512.bin...): print text\n"
    "  --temperature T      0 (default): greedy; else sample softmax(l / T)\n"
    "  --top-k K            sample among the K most likely tokens (0: all)\n"
    "  --seed S             seed of the sampler (default 0)\n"
    "  --stop-token ID      stop after generating ID (default: never)\n"
    "\n"
    "Evaluation (same models):\n"
    "  --eval-tokens FILE   int64 [rows, len] tokens: print 'perplexity: <v>'\n"
    "  --window W           tokens per evaluation window (default 256)\n"
    "  --compare-to DIR     a reference artifact (the dense model): also\n"
    "                       print mean KL divergence and top-1 agreement"
    "\n"
    "Options also accept --opt=VALUE. Exit status: 0 success, 1 an --expect\n"
    "mismatched, 2 usage, input or load error.\n";

struct Binding {
  std::string name;
  std::string path;
};

struct Options {
  std::string artifactDir;
  std::vector<Binding> inputs;
  std::vector<Binding> expects;
  double rtol = kDefaultRtol;
  double atol = kDefaultAtol;
  bool toleranceGiven = false;
  std::string outputDir = ".";
  long benchRuns = 0;
  long threads = 0;
  std::string device;
  // Decoding.
  long generate = -1;
  std::string promptIds, promptText, tokenizer;
  double temperature = 0;
  long topK = 0;
  unsigned long long seed = 0;
  long stopToken = -1;
  // Evaluation.
  std::string evalTokens, compareTo;
  long window = 256;
};

/// Parses an integer option value in [lo, hi].
bool parseInteger(const std::string &flag, const std::string &text, long long lo, long long hi,
                  long long &value, std::string &error) {
  char *end = nullptr;
  errno = 0;
  long long n = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || n < lo || n > hi) {
    error = flag + " needs an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
            "], got '" + text + "'";
    return false;
  }
  value = n;
  return true;
}

/// A tensor's declared type, read from the C API.
struct Signature {
  std::string name;
  DType dtype;
  /// The ONNX dtype `dtype` carries ("int4", "float8e4m3fn", ...), or "".
  std::string onnxDType;
  /// -1 marks a dynamic dim (ABI 3).
  std::vector<int64_t> shape;
  /// Bounds of the dims (-1: none) and their names ("" if none).
  std::vector<int64_t> maxShape;
  std::vector<std::string> dimNames;
  bool dynamic = false;
  size_t numBytes; ///< 0 when dynamic
};

int fail(const std::string &message) {
  std::fprintf(stderr, "sqz-run: error: %s\n", message.c_str());
  return kExitError;
}

bool parseTolerance(const std::string &flag, const std::string &text,
                    double &value, std::string &error) {
  const char *first = text.data();
  const char *last = first + text.size();
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (text.empty() || ec != std::errc() || ptr != last ||
      !std::isfinite(value) || value < 0) {
    error = flag + " expects a finite number >= 0, got '" + text + "'";
    return false;
  }
  return true;
}

bool parseBinding(const std::string &flag, const std::string &text,
                  Binding &binding, std::string &error) {
  // Split at the first '=': names rarely contain one, paths might.
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    error = flag + " expects NAME=FILE.npy, got '" + text + "'";
    return false;
  }
  binding.name = text.substr(0, eq);
  binding.path = text.substr(eq + 1);
  return true;
}

/// Parses the command line. Returns -1 to go on, else the exit code.
int parseOptions(int argc, char **argv, Options &options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      if (!options.artifactDir.empty())
        return fail("unexpected argument '" + arg +
                    "' (give exactly one artifact directory; see --help)");
      options.artifactDir = arg;
      continue;
    }
    if (arg.compare(0, 2, "--") != 0)
      return fail("unknown option '" + arg + "' (see --help)");

    std::string flag = arg, value;
    bool hasValue = false;
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      hasValue = true;
    }
    static const char *const kFlags[] = {
        "--input",       "--expect",     "--rtol",       "--atol",      "--output-dir",
        "--bench",       "--threads",    "--generate",   "--prompt-ids", "--prompt",
        "--tokenizer",   "--temperature", "--top-k",     "--seed",      "--stop-token",
        "--eval-tokens", "--window",     "--compare-to", "--device"};
    if (std::find(std::begin(kFlags), std::end(kFlags), flag) == std::end(kFlags))
      return fail("unknown option '" + flag + "' (see --help)");
    if (!hasValue) {
      if (i + 1 >= argc)
        return fail(flag + " needs a value (see --help)");
      value = argv[++i];
    }

    std::string error;
    if (flag == "--input" || flag == "--expect") {
      Binding binding;
      if (!parseBinding(flag, value, binding, error))
        return fail(error);
      (flag == "--input" ? options.inputs : options.expects)
          .push_back(std::move(binding));
    } else if (flag == "--rtol" || flag == "--atol") {
      if (!parseTolerance(flag, value,
                          flag == "--rtol" ? options.rtol : options.atol,
                          error))
        return fail(error);
      options.toleranceGiven = true;
    } else if (flag == "--threads" || flag == "--generate" || flag == "--top-k" ||
               flag == "--stop-token" || flag == "--window" || flag == "--seed") {
      long long n;
      long long hi = flag == "--threads" ? 4096 : flag == "--seed" ? LLONG_MAX : 100000000;
      long long lo = flag == "--threads" || flag == "--window" ? 1 : 0;
      if (!parseInteger(flag, value, lo, hi, n, error))
        return fail(error);
      if (flag == "--threads")
        options.threads = static_cast<long>(n);
      else if (flag == "--generate")
        options.generate = static_cast<long>(n);
      else if (flag == "--top-k")
        options.topK = static_cast<long>(n);
      else if (flag == "--stop-token")
        options.stopToken = static_cast<long>(n);
      else if (flag == "--window")
        options.window = static_cast<long>(n);
      else
        options.seed = static_cast<unsigned long long>(n);
    } else if (flag == "--temperature") {
      if (!parseTolerance(flag, value, options.temperature, error))
        return fail(error);
    } else if (flag == "--prompt-ids" || flag == "--prompt" || flag == "--tokenizer" ||
               flag == "--eval-tokens" || flag == "--compare-to") {
      if (value.empty() && flag != "--prompt")
        return fail(flag + " needs a non-empty value");
      (flag == "--prompt-ids"    ? options.promptIds
       : flag == "--prompt"      ? options.promptText
       : flag == "--tokenizer"   ? options.tokenizer
       : flag == "--eval-tokens" ? options.evalTokens
                                 : options.compareTo) = value;
      if (flag == "--prompt" && options.promptText.empty())
        options.promptText = std::string(1, '\0'); // "given, empty": BOS only
    } else if (flag == "--device") {
      if (value != "cpu" && value != "cuda" &&
          !(value.size() > 5 && value.size() <= 8 && value.compare(0, 5, "cuda:") == 0 &&
            value.find_first_not_of("0123456789", 5) == std::string::npos))
        return fail("--device expects cpu, cuda or cuda:N, got '" + value + "'");
      options.device = value;
    } else if (flag == "--bench") {
      char *end = nullptr;
      errno = 0;
      long n = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno != 0 || n < 1 || n > 1000000)
        return fail("--bench needs a run count in [1, 1000000], got '" +
                    value + "'");
      options.benchRuns = n;
    } else {
      if (value.empty())
        return fail("--output-dir needs a non-empty value");
      options.outputDir = value;
    }
  }
  if (options.artifactDir.empty())
    return fail("no artifact directory given (see --help)");
  bool decoding = options.generate >= 0, evaluating = !options.evalTokens.empty();
  if (decoding && evaluating)
    return fail("--generate and --eval-tokens are separate modes; give one");
  if ((decoding || evaluating) &&
      (!options.inputs.empty() || !options.expects.empty() || options.benchRuns))
    return fail(std::string(decoding ? "--generate" : "--eval-tokens") +
                " does not take --input, --expect or --bench");
  if (decoding && options.promptIds.empty() == options.promptText.empty())
    return fail("--generate needs exactly one of --prompt-ids and --prompt");
  if (!options.promptText.empty() && options.tokenizer.empty())
    return fail("--prompt needs --tokenizer to turn the text into token ids");
  if (!decoding && (!options.promptIds.empty() || !options.promptText.empty() ||
                    options.temperature != 0 || options.topK || options.stopToken >= 0))
    return fail("--prompt-ids, --prompt, --temperature, --top-k and --stop-token go with "
                "--generate");
  if (!evaluating && !options.compareTo.empty())
    return fail("--compare-to goes with --eval-tokens");
  return -1;
}

/// Runs the model once: with the input shapes `shapes` when it is dynamic (non-null), else
/// on the manifest's static shapes.
int runModel(sqz_model *model, const int64_t *const *shapes, const void *const *inputs,
             void *const *outputs) {
  return shapes ? sqz_model_run_shaped(model, shapes, inputs, outputs)
                : sqz_model_run(model, inputs, outputs);
}

/// Times `runs` calls of the model (the caller already ran it once: the warm-up).
/// GPU times of the runs of a CUDA model (ms, from sqz_model_last_run_gpu_ms).
struct GpuTimes {
  std::vector<double> compute, total;
};

bool benchmark(sqz_model *model, const int64_t *const *shapes, const void *const *inputs,
               void *const *outputs, long runs, std::vector<double> &seconds,
               GpuTimes *gpuTimes, std::string &error) {
  seconds.reserve(runs);
  for (long r = 0; r < runs; ++r) {
    auto start = std::chrono::steady_clock::now();
    if (runModel(model, shapes, inputs, outputs) != 0) {
      error = sqz_last_error();
      return false;
    }
    auto stop = std::chrono::steady_clock::now();
    seconds.push_back(std::chrono::duration<double>(stop - start).count());
    double compute, total;
    if (gpuTimes && sqz_model_last_run_gpu_ms(model, &compute, &total) == 0) {
      gpuTimes->compute.push_back(compute);
      gpuTimes->total.push_back(total);
    }
  }
  return true;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

/// `gpu min/median/max` lines (ms): the model's GPU time without copies, then with them.
void printGpuTimings(const GpuTimes &times) {
  if (times.compute.empty())
    return;
  auto line = [](const char *what, const std::vector<double> &ms) {
    std::printf("gpu %s min %.3f ms median %.3f ms max %.3f ms\n", what,
                *std::min_element(ms.begin(), ms.end()), median(ms),
                *std::max_element(ms.begin(), ms.end()));
  };
  line("compute", times.compute);
  line("total", times.total);
}

/// Prints `min`, `median` and `max` lines in one unit (us, ms or s) chosen by
/// the median, so the three compare at a glance, then a `load` line with the
/// time the artifact took to load (ms).
void printTimings(std::vector<double> seconds, double loadSeconds) {
  std::sort(seconds.begin(), seconds.end());
  size_t n = seconds.size();
  double median = n % 2 ? seconds[n / 2]
                        : 0.5 * (seconds[n / 2 - 1] + seconds[n / 2]);
  const char *unit = "s";
  double scale = 1.0;
  if (median < 1e-3) {
    unit = "us";
    scale = 1e6;
  } else if (median < 1.0) {
    unit = "ms";
    scale = 1e3;
  }
  std::printf("bench: %zu runs after 1 warm-up run\n", n);
  std::printf("min %.3f %s\n", seconds.front() * scale, unit);
  std::printf("median %.3f %s\n", median * scale, unit);
  std::printf("max %.3f %s\n", seconds.back() * scale, unit);
  std::printf("load %.3f ms\n", loadSeconds * 1e3);
}

std::vector<Signature> readSignatures(const sqz_model *model, bool outputs) {
  std::vector<Signature> result;
  size_t count = outputs ? sqz_model_num_outputs(model)
                         : sqz_model_num_inputs(model);
  for (size_t i = 0; i < count; ++i) {
    Signature sig;
    sig.name = outputs ? sqz_model_output_name(model, i)
                       : sqz_model_input_name(model, i);
    // The runtime only hands out dtype names it knows.
    sig.dtype = *parseDTypeName(outputs ? sqz_model_output_dtype(model, i)
                                        : sqz_model_input_dtype(model, i));
    sig.onnxDType = outputs ? sqz_model_output_onnx_dtype(model, i)
                            : sqz_model_input_onnx_dtype(model, i);
    size_t rank = outputs ? sqz_model_output_rank(model, i)
                          : sqz_model_input_rank(model, i);
    const int64_t *shape = outputs ? sqz_model_output_shape(model, i)
                                   : sqz_model_input_shape(model, i);
    sig.shape.assign(shape, shape + rank);
    const int64_t *maxShape = outputs ? sqz_model_output_max_shape(model, i)
                                      : sqz_model_input_max_shape(model, i);
    sig.maxShape.assign(maxShape, maxShape + rank);
    for (size_t d = 0; d < rank; ++d) {
      sig.dimNames.push_back(outputs ? sqz_model_output_dim_name(model, i, d)
                                     : sqz_model_input_dim_name(model, i, d));
      sig.dynamic |= shape[d] < 0;
    }
    sig.numBytes = outputs ? sqz_model_output_nbytes(model, i)
                           : sqz_model_input_nbytes(model, i);
    result.push_back(std::move(sig));
  }
  return result;
}

std::string joinNames(const std::vector<Signature> &sigs) {
  if (sigs.empty())
    return "none";
  std::string result;
  for (const Signature &sig : sigs)
    result += (result.empty() ? "" : ", ") + sig.name;
  return result;
}

/// Matches --input/--expect bindings to the model's tensors: every name must
/// be one of `sigs` and appear at most once. Returns, per tensor, the index
/// of its binding or -1.
bool matchBindings(const std::vector<Binding> &bindings,
                   const std::vector<Signature> &sigs, const char *flag,
                   const char *kind, std::vector<int> &bindingOf,
                   std::string &error) {
  bindingOf.assign(sigs.size(), -1);
  for (size_t b = 0; b < bindings.size(); ++b) {
    size_t t = 0;
    while (t < sigs.size() && sigs[t].name != bindings[b].name)
      ++t;
    if (t == sigs.size()) {
      error = std::string(flag) + ": the model has no " + kind + " named '" +
              bindings[b].name + "' (model " + kind + "s: " + joinNames(sigs) +
              ")";
      return false;
    }
    if (bindingOf[t] != -1) {
      error = std::string(flag) + ": " + kind + " '" + bindings[b].name +
              "' given more than once";
      return false;
    }
    bindingOf[t] = static_cast<int>(b);
  }
  return true;
}

/// "int8[4]", or "int8[4] (onnx int4)" when the dtype carries another ONNX dtype. A dynamic
/// dim shows as its name ("int64[batch,seq]"), or "?" when unnamed, with its bound if any
/// ("seq<=256").
std::string formatSignature(const Signature &sig) {
  std::string text;
  if (!sig.dynamic) {
    text = formatTensorType(sig.dtype, sig.shape);
  } else {
    text = std::string(dtypeName(sig.dtype)) + "[";
    for (size_t d = 0; d < sig.shape.size(); ++d) {
      text += d ? "," : "";
      if (sig.shape[d] >= 0) {
        text += std::to_string(sig.shape[d]);
        continue;
      }
      text += sig.dimNames[d].empty() ? "?" : sig.dimNames[d];
      if (sig.maxShape[d] >= 0)
        text += "<=" + std::to_string(sig.maxShape[d]);
    }
    text += "]";
  }
  if (!sig.onnxDType.empty())
    text += " (onnx " + sig.onnxDType + ")";
  return text;
}

/// "[batch=1, seq=33, 512]": the dims of one run of a dynamic model, dynamic ones with their
/// names ("?" when unnamed).
std::string formatRunDims(const Signature &sig, const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t d = 0; d < shape.size(); ++d) {
    text += d ? ", " : "";
    if (sig.shape[d] < 0)
      text += (sig.dimNames[d].empty() ? "?" : sig.dimNames[d]) + "=";
    text += std::to_string(shape[d]);
  }
  return text + "]";
}

/// Whether a tensor of `shape` fits `sig`: the same rank and static dims (the runtime checks
/// the dynamic ones against their bounds and names).
bool fitsSignature(const Signature &sig, const std::vector<int64_t> &shape) {
  if (shape.size() != sig.shape.size())
    return false;
  for (size_t d = 0; d < shape.size(); ++d)
    if (sig.shape[d] >= 0 && shape[d] != sig.shape[d])
      return false;
  return true;
}

/// Reads `path` and checks it holds exactly the type `sig` declares (any size for its
/// dynamic dims).
bool readMatching(const Binding &binding, const Signature &sig,
                  const char *what, NpyArray &array, std::string &error) {
  if (Status s = readNpyFile(binding.path, array); !s) {
    error = std::string(what) + " '" + sig.name + "': " + s.message();
    return false;
  }
  if (array.dtype != sig.dtype || !fitsSignature(sig, array.shape)) {
    error = std::string(what) + " '" + sig.name + "': the model declares " +
            formatSignature(sig) + ", but '" + binding.path + "' holds " +
            formatTensorType(array.dtype, array.shape);
    return false;
  }
  return true;
}

/// Output names come from the model and may hold '/' (ONNX value names often
/// do), so keep file names to a portable set of characters.
std::string outputFileName(const std::string &name) {
  std::string file = name;
  for (char &c : file)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      c = '_';
  return file + ".npy";
}

/// mkdir -p.
bool createDirectories(const std::string &dir, std::string &error) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return true;
    error = "output directory '" + dir + "' exists and is not a directory";
    return false;
  }
  size_t end = dir.find_last_not_of('/');
  size_t slash = end == std::string::npos ? std::string::npos
                                          : dir.rfind('/', end);
  if (slash != std::string::npos && slash != 0 &&
      !createDirectories(dir.substr(0, slash), error))
    return false;
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
    error = "cannot create output directory '" + dir +
            "': " + std::strerror(errno);
    return false;
  }
  return true;
}

struct CompareResult {
  double maxAbs = 0;
  double maxRel = 0;
  size_t mismatches = 0;
};

/// NaN is sticky: once an element compares a NaN with a number, the maximum
/// error is reported as nan.
void updateMax(double &max, double value) {
  if (!std::isnan(max) && (std::isnan(value) || value > max))
    max = value;
}

template <typename T>
double toDouble(T value) {
  return static_cast<double>(value);
}

/// Compares `n` elements of type T (uint16_t holds float16 bits).
template <typename T>
void compareElements(const void *gotData, const void *wantData, size_t n,
                     bool isHalf, bool exact, double rtol, double atol,
                     CompareResult &result) {
  const T *got = static_cast<const T *>(gotData);
  const T *want = static_cast<const T *>(wantData);
  for (size_t i = 0; i < n; ++i) {
    double g = isHalf ? halfToFloat(static_cast<uint16_t>(got[i]))
                      : toDouble(got[i]);
    double w = isHalf ? halfToFloat(static_cast<uint16_t>(want[i]))
                      : toDouble(want[i]);
    double absErr, relErr;
    bool match;
    // Exact mode compares the integers themselves: int64 values beyond 2^53
    // can differ yet convert to the same double.
    bool equal = exact ? got[i] == want[i] : g == w;
    if (equal) {
      // Also equal infinities, whose difference would be NaN.
      absErr = relErr = 0;
      match = true;
    } else if (std::isnan(g) || std::isnan(w)) {
      match = std::isnan(g) && std::isnan(w);
      absErr = relErr = match ? 0 : NAN;
    } else {
      absErr = std::fabs(g - w);
      relErr = w != 0 ? absErr / std::fabs(w) : INFINITY;
      match = !exact && absErr <= atol + rtol * std::fabs(w);
    }
    if (!match)
      ++result.mismatches;
    updateMax(result.maxAbs, absErr);
    updateMax(result.maxRel, relErr);
  }
}

CompareResult compare(DType dtype, const void *got, const void *want, size_t n,
                      bool exact, double rtol, double atol) {
  CompareResult r;
  switch (dtype) {
  case DType::Float16:
    compareElements<uint16_t>(got, want, n, true, exact, rtol, atol, r);
    break;
  case DType::Float32:
    compareElements<float>(got, want, n, false, exact, rtol, atol, r);
    break;
  case DType::Float64:
    compareElements<double>(got, want, n, false, exact, rtol, atol, r);
    break;
  case DType::Int8:
    compareElements<int8_t>(got, want, n, false, exact, rtol, atol, r);
    break;
  case DType::Int16:
    compareElements<int16_t>(got, want, n, false, exact, rtol, atol, r);
    break;
  case DType::Int32:
    compareElements<int32_t>(got, want, n, false, exact, rtol, atol, r);
    break;
  case DType::Int64:
    compareElements<int64_t>(got, want, n, false, exact, rtol, atol, r);
    break;
  case DType::UInt8:
  case DType::Bool:
    compareElements<uint8_t>(got, want, n, false, exact, rtol, atol, r);
    break;
  case DType::UInt16:
    compareElements<uint16_t>(got, want, n, false, exact, rtol, atol, r);
    break;
  case DType::UInt32:
    compareElements<uint32_t>(got, want, n, false, exact, rtol, atol, r);
    break;
  case DType::UInt64:
    compareElements<uint64_t>(got, want, n, false, exact, rtol, atol, r);
    break;
  }
  return r;
}

struct ModelDeleter {
  void operator()(sqz_model *m) const { sqz_model_unload(m); }
};

/// `--generate`: prints the prompt, the new ids (and text with --tokenizer), and tokens/s.
int runGenerate(sqz_model *model, const Options &options) {
  Tokenizer tokenizer;
  bool haveTokenizer = !options.tokenizer.empty();
  if (haveTokenizer)
    if (Status s = tokenizer.load(options.tokenizer); !s)
      return fail(s.message());
  std::vector<int64_t> prompt;
  if (!options.promptIds.empty()) {
    NpyArray ids;
    if (Status s = readNpyFile(options.promptIds, ids); !s)
      return fail(s.message());
    if (ids.dtype != DType::Int64 && ids.dtype != DType::Int32)
      return fail("--prompt-ids must hold int64 or int32 token ids, got " +
                  std::string(dtypeName(ids.dtype)));
    size_t n = ids.data.size() / dtypeSize(ids.dtype);
    for (size_t i = 0; i < n; ++i)
      prompt.push_back(ids.dtype == DType::Int64
                           ? reinterpret_cast<const int64_t *>(ids.data.data())[i]
                           : reinterpret_cast<const int32_t *>(ids.data.data())[i]);
  } else {
    std::string text = options.promptText == std::string(1, '\0') ? "" : options.promptText;
    prompt = tokenizer.encode(text, /*bos=*/true);
  }
  SamplingOptions sampling;
  sampling.temperature = static_cast<float>(options.temperature);
  sampling.topK = options.topK;
  sampling.seed = options.seed;
  sampling.stopToken = options.stopToken;
  std::string promptLine;
  for (int64_t id : prompt)
    promptLine += (promptLine.empty() ? "" : " ") + std::to_string(id);
  std::printf("prompt: %s\n", promptLine.c_str());
  std::fflush(stdout);
  std::vector<int64_t> generated;
  GenerateStats stats;
  if (Status s = generate(model, prompt, options.generate, sampling, generated, stats, {}); !s)
    return fail(s.message());
  std::string ids;
  for (int64_t id : generated)
    ids += (ids.empty() ? "" : " ") + std::to_string(id);
  std::printf("generated: %s\n", ids.c_str());
  if (haveTokenizer) {
    std::vector<int64_t> all(prompt);
    all.insert(all.end(), generated.begin(), generated.end());
    std::printf("text: %s\n", tokenizer.decode(all).c_str());
  }
  auto rate = [](int64_t tokens, double seconds) {
    return seconds > 0 ? tokens / seconds : 0.0;
  };
  std::printf("prefill: %lld tokens in %.3f ms (%.1f tokens/s)\n",
              static_cast<long long>(stats.prefillTokens), stats.prefillSeconds * 1e3,
              rate(stats.prefillTokens, stats.prefillSeconds));
  std::printf("decode: %lld tokens in %.3f ms (%.1f tokens/s)\n",
              static_cast<long long>(stats.decodeTokens), stats.decodeSeconds * 1e3,
              rate(stats.decodeTokens, stats.decodeSeconds));
  std::printf("mode: %s\n", stats.mode.c_str());
  return kExitOk;
}

/// `--eval-tokens`: prints 'perplexity: <v>' (and KL/top-1 with --compare-to).
int runEval(sqz_model *model, const Options &options) {
  NpyArray tokens;
  if (Status s = readNpyFile(options.evalTokens, tokens); !s)
    return fail(s.message());
  if (tokens.dtype != DType::Int64 || tokens.shape.size() != 2)
    return fail("--eval-tokens must be an int64 [rows, len] array, got " +
                formatTensorType(tokens.dtype, tokens.shape));
  std::unique_ptr<sqz_model, ModelDeleter> reference;
  if (!options.compareTo.empty()) {
    reference.reset(sqz_model_load(options.compareTo.c_str()));
    if (!reference)
      return fail(std::string("--compare-to: ") + sqz_last_error());
    if (options.threads > 0 && sqz_model_set_threads(reference.get(),
                                                         static_cast<int>(options.threads)))
      return fail(sqz_last_error());
  }
  const int64_t *data = reinterpret_cast<const int64_t *>(tokens.data.data());
  std::vector<int64_t> ids(data, data + tokens.shape[0] * tokens.shape[1]);
  EvalResult result;
  if (Status s = evaluateLM(model, reference.get(), ids, tokens.shape[0], tokens.shape[1],
                            options.window, result);
      !s)
    return fail(s.message());
  std::printf("tokens: %lld predictions in windows of %ld\n",
              static_cast<long long>(result.predictions), options.window);
  std::printf("perplexity: %.6f\n", result.perplexity);
  if (result.compared) {
    std::printf("kl-divergence: %.6g\n", result.meanKl);
    std::printf("top1-agreement: %.6f\n", result.top1Agreement);
  }
  return kExitOk;
}

int run(int argc, char **argv) {
  Options options;
  if (int code = parseOptions(argc, argv, options); code >= 0)
    return code;

  auto loadStart = std::chrono::steady_clock::now();
  std::unique_ptr<sqz_model, ModelDeleter> model(sqz_model_load_on_device(
      options.artifactDir.c_str(), options.device.empty() ? nullptr : options.device.c_str()));
  if (!model)
    return fail(sqz_last_error());
  double loadSeconds = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - loadStart)
                           .count();
  if (options.threads > 0 &&
      sqz_model_set_threads(model.get(), static_cast<int>(options.threads)) != 0)
    return fail(sqz_last_error());
  if (options.generate >= 0)
    return runGenerate(model.get(), options);
  if (!options.evalTokens.empty())
    return runEval(model.get(), options);
  std::vector<Signature> inputSigs = readSignatures(model.get(), false);
  std::vector<Signature> outputSigs = readSignatures(model.get(), true);

  // Check the whole command line before running anything.
  std::string error;
  std::vector<int> inputBinding, expectBinding;
  if (!matchBindings(options.inputs, inputSigs, "--input", "input",
                     inputBinding, error) ||
      !matchBindings(options.expects, outputSigs, "--expect", "output",
                     expectBinding, error))
    return fail(error);
  std::string missing;
  for (size_t i = 0; i < inputSigs.size(); ++i)
    if (inputBinding[i] < 0)
      missing += (missing.empty() ? "" : ", ") + inputSigs[i].name + " (" +
                 formatSignature(inputSigs[i]) + ")";
  if (!missing.empty())
    return fail("missing --input for model input(s): " + missing);

  std::vector<NpyArray> inputs(inputSigs.size());
  std::vector<const void *> inputPtrs(inputSigs.size());
  for (size_t i = 0; i < inputSigs.size(); ++i) {
    if (!readMatching(options.inputs[inputBinding[i]], inputSigs[i], "input",
                      inputs[i], error))
      return fail(error);
    inputPtrs[i] = inputs[i].data.data();
  }

  // The shapes of this run: the manifest's for a static model; for a dynamic one, those of the
  // input files and the output shapes the model computes from them.
  bool dynamic = sqz_model_is_dynamic(model.get()) != 0;
  std::vector<std::vector<int64_t>> outputShapes(outputSigs.size());
  std::vector<const int64_t *> inputShapePtrs(inputSigs.size());
  for (size_t i = 0; i < inputSigs.size(); ++i)
    inputShapePtrs[i] = inputs[i].shape.data();
  if (dynamic) {
    std::vector<int64_t *> outputShapePtrs(outputSigs.size());
    for (size_t i = 0; i < outputSigs.size(); ++i) {
      outputShapes[i].resize(outputSigs[i].shape.size());
      outputShapePtrs[i] = outputShapes[i].data();
    }
    if (sqz_model_infer_output_shapes(model.get(), inputShapePtrs.data(),
                                      outputShapePtrs.data()) != 0)
      return fail(sqz_last_error());
  } else {
    for (size_t i = 0; i < outputSigs.size(); ++i)
      outputShapes[i] = outputSigs[i].shape;
  }
  std::vector<size_t> outputBytes(outputSigs.size());
  for (size_t i = 0; i < outputSigs.size(); ++i) {
    size_t elements;
    if (Status s = computeTensorSize(outputSigs[i].dtype, outputShapes[i], elements,
                                     outputBytes[i]);
        !s)
      return fail("output '" + outputSigs[i].name + "': " + s.message());
  }

  std::vector<NpyArray> expected(outputSigs.size());
  for (size_t i = 0; i < outputSigs.size(); ++i) {
    if (expectBinding[i] < 0)
      continue;
    if (!readMatching(options.expects[expectBinding[i]], outputSigs[i],
                      "--expect for output", expected[i], error))
      return fail(error);
    if (dynamic && expected[i].shape != outputShapes[i])
      return fail("--expect for output '" + outputSigs[i].name + "': the model gives " +
                  formatTensorType(outputSigs[i].dtype, outputShapes[i]) +
                  " for these inputs, but '" + options.expects[expectBinding[i]].path +
                  "' holds " + formatTensorType(expected[i].dtype, expected[i].shape));
  }

  std::vector<std::string> outputPaths;
  std::string dir = options.outputDir;
  if (dir.back() != '/')
    dir += '/';
  for (size_t i = 0; i < outputSigs.size(); ++i) {
    std::string path = dir + outputFileName(outputSigs[i].name);
    for (size_t j = 0; j < i; ++j)
      if (outputPaths[j] == path)
        return fail("outputs '" + outputSigs[j].name + "' and '" +
                    outputSigs[i].name + "' would both be written to '" +
                    path + "'");
    outputPaths.push_back(path);
  }
  if (!createDirectories(options.outputDir, error))
    return fail(error);

  std::vector<AlignedBuffer> outputs(outputSigs.size());
  std::vector<void *> outputPtrs(outputSigs.size());
  for (size_t i = 0; i < outputSigs.size(); ++i) {
    if (!outputs[i].allocate(outputBytes[i]))
      return fail("out of memory allocating output '" + outputSigs[i].name +
                  "'");
    outputPtrs[i] = outputs[i].data();
  }
  // A dynamic model's shapes of this run, once everything is checked.
  if (dynamic) {
    auto summary = [](const char *kind, const Signature &sig,
                      const std::vector<int64_t> &shape) {
      std::printf("%s %s %s %s%s\n", kind, sig.name.c_str(), dtypeName(sig.dtype),
                  formatRunDims(sig, shape).c_str(), sig.dynamic ? " (dynamic)" : "");
    };
    for (size_t i = 0; i < inputSigs.size(); ++i)
      summary("input", inputSigs[i], inputs[i].shape);
    for (size_t i = 0; i < outputSigs.size(); ++i)
      summary("output", outputSigs[i], outputShapes[i]);
  }
  const int64_t *const *runShapes = dynamic ? inputShapePtrs.data() : nullptr;
  if (runModel(model.get(), runShapes, inputPtrs.data(), outputPtrs.data()) != 0)
    return fail(sqz_last_error());

  // Write everything before comparing, so a mismatch can be inspected.
  for (size_t i = 0; i < outputSigs.size(); ++i) {
    const Signature &sig = outputSigs[i];
    if (Status s = writeNpyFile(outputPaths[i], sig.dtype, outputShapes[i],
                                outputs[i].data());
        !s)
      return fail(s.message());
    std::printf("wrote %s %s -> %s\n", sig.name.c_str(),
                formatTensorType(sig.dtype, outputShapes[i]).c_str(),
                outputPaths[i].c_str());
  }

  if (options.benchRuns > 0) {
    std::vector<double> seconds;
    GpuTimes gpuTimes;
    bool onGpu = std::strcmp(sqz_model_device(model.get()), "cuda") == 0;
    if (!benchmark(model.get(), runShapes, inputPtrs.data(), outputPtrs.data(),
                   options.benchRuns, seconds, onGpu ? &gpuTimes : nullptr, error))
      return fail(error);
    printTimings(seconds, loadSeconds);
    printGpuTimings(gpuTimes);
  }

  int status = kExitOk;
  for (size_t i = 0; i < outputSigs.size(); ++i) {
    if (expectBinding[i] < 0)
      continue;
    const Signature &sig = outputSigs[i];
    bool exact = !isFloatDType(sig.dtype) && !options.toleranceGiven;
    double rtol = exact ? 0 : options.rtol;
    double atol = exact ? 0 : options.atol;
    size_t n = outputBytes[i] / dtypeSize(sig.dtype);
    CompareResult r = compare(sig.dtype, outputs[i].data(),
                              expected[i].data.data(), n, exact, rtol, atol);
    bool ok = r.mismatches == 0;
    std::printf("expect %s: max_abs_err=%.3g max_rel_err=%.3g "
                "mismatches=%zu/%zu (rtol=%g atol=%g) %s\n",
                sig.name.c_str(), r.maxAbs, r.maxRel, r.mismatches, n, rtol,
                atol, ok ? "OK" : "MISMATCH");
    if (!ok)
      status = kExitMismatch;
  }
  return status;
}

} // namespace

int main(int argc, char **argv) {
  int code = run(argc, argv);
  // Report a failed write of the report itself (e.g. a full disk).
  if (std::fflush(stdout) != 0 && code == kExitOk)
    return fail(std::string("cannot write to stdout: ") + std::strerror(errno));
  return code;
}
