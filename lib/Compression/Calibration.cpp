//===- Calibration.cpp - Activation statistics for compression ------------===//

#include "sqz/Compression/Calibration.h"

#include "Runtime/DType.h"
#include "Runtime/Npy.h"
#include "Runtime/Safetensors.h"
#include "sqz-c/sqz.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>

using namespace sqz::compression;
namespace rt = sqz::runtime;

static llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

namespace {
struct TapStats {
  const TapRequest *request;
  size_t output; ///< index among the model's outputs
  int64_t tokens = 0, channels = 0, seen = 0;
  std::vector<double> sumsq;
  std::vector<float> absmax;
  Eigen::MatrixXd xtx; ///< lower triangle accumulated
};

/// One sample: a buffer per model input.
using Sample = std::vector<rt::NpyArray>;

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}
} // namespace

/// The samples of `data` for a model with the given inputs.
static llvm::Error loadSamples(sqz_model *m, const CalibrationData &data,
                               std::vector<Sample> &samples) {
  size_t nin = sqz_model_num_inputs(m);
  auto inputShape = [&](size_t i) {
    const int64_t *s = sqz_model_input_shape(m, i);
    return std::vector<int64_t>(s, s + sqz_model_input_rank(m, i));
  };
  auto inputDType = [&](size_t i) { return rt::parseDTypeName(sqz_model_input_dtype(m, i)); };
  auto limit = [&](size_t n) {
    return data.maxSamples >= 0 ? std::min<size_t>(n, data.maxSamples) : n;
  };
  if (llvm::sys::fs::is_directory(data.path)) {
    std::vector<std::string> dirs;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(data.path, ec), end; it != end && !ec;
         it.increment(ec))
      if (llvm::sys::fs::is_directory(it->path()))
        dirs.push_back(it->path());
    if (ec)
      return makeError("cannot list calibration folder '" + data.path + "': " + ec.message());
    std::sort(dirs.begin(), dirs.end());
    if (dirs.empty())
      return makeError("calibration folder '" + data.path +
                       "' has no sample subfolders (one per sample, each with <input>.npy)");
    dirs.resize(limit(dirs.size()));
    for (const std::string &dir : dirs) {
      Sample sample(nin);
      for (size_t i = 0; i < nin; ++i) {
        std::string file = dir + "/" + sqz_model_input_name(m, i) + ".npy";
        if (rt::Status s = rt::readNpyFile(file, sample[i]); !s)
          return makeError("calibration sample: " + s.message());
        if (sample[i].shape != inputShape(i) || sample[i].dtype != *inputDType(i))
          return makeError(llvm::formatv("calibration sample '{0}' is {1} {2}; the model's "
                                         "input '{3}' is {4} {5}",
                                         file, rt::dtypeName(sample[i].dtype),
                                         formatShape(sample[i].shape), sqz_model_input_name(m, i),
                                         sqz_model_input_dtype(m, i),
                                         formatShape(inputShape(i))));
      }
      samples.push_back(std::move(sample));
    }
    return llvm::Error::success();
  }
  if (nin != 1)
    return makeError(llvm::formatv("an .npy of stacked samples calibrates a model with one "
                                   "input; this one has {0} (give a folder of input sets)",
                                   nin));
  rt::NpyArray all;
  if (rt::Status s = rt::readNpyFile(data.path, all); !s)
    return makeError("calibration data: " + s.message());
  std::vector<int64_t> shape = inputShape(0);
  int64_t perSample = 1;
  for (int64_t d : shape)
    perSample *= d;
  int64_t rest = 1;
  for (size_t d = 1; d < all.shape.size(); ++d)
    rest *= all.shape[d];
  if (all.dtype != *inputDType(0) || all.shape.empty() || rest != perSample)
    return makeError(llvm::formatv("calibration data '{0}' is {1} {2}; expected N samples of "
                                   "the input '{3}' ({4} {5}) stacked on a leading axis",
                                   data.path, rt::dtypeName(all.dtype), formatShape(all.shape),
                                   sqz_model_input_name(m, 0), sqz_model_input_dtype(m, 0),
                                   formatShape(shape)));
  size_t n = limit(static_cast<size_t>(all.shape[0]));
  size_t bytes = sqz_model_input_nbytes(m, 0);
  for (size_t i = 0; i < n; ++i) {
    Sample sample(1);
    sample[0].dtype = all.dtype;
    sample[0].shape = shape;
    if (!sample[0].data.allocate(bytes))
      return makeError("out of memory reading the calibration data");
    std::memcpy(sample[0].data.data(), all.data.data() + i * bytes, bytes);
    samples.push_back(std::move(sample));
  }
  if (samples.empty())
    return makeError("calibration data '" + data.path + "' holds no samples");
  return llvm::Error::success();
}

llvm::Error sqz::compression::runCalibration(const std::string &artifactDir,
                                             llvm::ArrayRef<TapRequest> taps,
                                             const CalibrationData &data,
                                             const std::string &statsPath,
                                             uint64_t memoryLimitBytes,
                                             llvm::raw_ostream &progress) {
  std::unique_ptr<sqz_model, void (*)(sqz_model *)> model(sqz_model_load(artifactDir.c_str()),
                                                          &sqz_model_unload);
  if (!model)
    return makeError(llvm::Twine("cannot load the calibration build: ") + sqz_last_error());
  sqz_model *m = model.get();

  // Find each tap's output and check the statistics fit in memory.
  std::vector<TapStats> stats;
  uint64_t needed = 0;
  size_t nout = sqz_model_num_outputs(m);
  for (const TapRequest &tap : taps) {
    std::string name = "__tap__/" + tap.name;
    size_t index = nout;
    for (size_t j = 0; j < nout; ++j)
      if (name == sqz_model_output_name(m, j))
        index = j;
    if (index == nout)
      return makeError("the calibration build has no output for tap '" + tap.name + "'");
    const int64_t *shape = sqz_model_output_shape(m, index);
    if (sqz_model_output_rank(m, index) != 2 ||
        std::string(sqz_model_output_dtype(m, index)) != "float32")
      return makeError("tap output '" + name + "' must be float32 [tokens, channels]");
    TapStats s;
    s.request = &tap;
    s.output = index;
    s.tokens = shape[0];
    s.channels = shape[1];
    uint64_t c = static_cast<uint64_t>(s.channels);
    uint64_t bytes = (tap.sumsq ? c * 8 : 0) + (tap.absmax ? c * 4 : 0) + (tap.xtx ? c * c * 8 : 0);
    needed += bytes;
    stats.push_back(std::move(s));
  }
  if (needed > memoryLimitBytes) {
    auto widest = std::max_element(stats.begin(), stats.end(), [](const TapStats &a,
                                                                  const TapStats &b) {
      return a.channels < b.channels;
    });
    return makeError(llvm::formatv(
        "the calibration statistics need {0:F2} GiB (the widest layer '{1}' has {2} input "
        "channels: XᵀX alone is {3:F2} GiB in fp64), more than the limit of {4:F2} GiB; "
        "select fewer layers, or raise the limit (--calib-memory-limit)",
        needed / 1073741824.0, widest->request->name, widest->channels,
        widest->channels * widest->channels * 8.0 / 1073741824.0,
        memoryLimitBytes / 1073741824.0));
  }
  for (TapStats &s : stats) {
    if (s.request->sumsq)
      s.sumsq.assign(s.channels, 0.0);
    if (s.request->absmax)
      s.absmax.assign(s.channels, 0.0f);
    if (s.request->xtx)
      s.xtx = Eigen::MatrixXd::Zero(s.channels, s.channels);
  }

  std::vector<Sample> samples;
  if (llvm::Error e = loadSamples(m, data, samples))
    return e;

  std::vector<rt::AlignedBuffer> outputs(nout);
  for (size_t j = 0; j < nout; ++j)
    if (!outputs[j].allocate(sqz_model_output_nbytes(m, j)))
      return makeError("out of memory allocating the calibration build's outputs");
  std::vector<void *> outPtrs;
  for (rt::AlignedBuffer &b : outputs)
    outPtrs.push_back(b.data());
  for (size_t i = 0; i < samples.size(); ++i) {
    std::vector<const void *> inPtrs;
    for (rt::NpyArray &a : samples[i])
      inPtrs.push_back(a.data.data());
    if (sqz_model_run(m, inPtrs.data(), outPtrs.data()) != 0)
      return makeError(llvm::Twine("calibration run failed: ") + sqz_last_error());
    for (TapStats &s : stats) {
      const float *x = reinterpret_cast<const float *>(outputs[s.output].data());
      for (int64_t t = 0; t < s.tokens; ++t)
        for (int64_t j = 0; j < s.channels; ++j) {
          double v = x[t * s.channels + j];
          if (s.request->sumsq)
            s.sumsq[j] += v * v;
          if (s.request->absmax)
            s.absmax[j] = std::max(s.absmax[j], std::fabs(x[t * s.channels + j]));
        }
      if (s.request->xtx) {
        Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>
            block(x, s.tokens, s.channels);
        // One sample's XᵀX in float (a few hundred tokens at most), accumulated in double.
        Eigen::MatrixXf partial = Eigen::MatrixXf::Zero(s.channels, s.channels);
        partial.selfadjointView<Eigen::Lower>().rankUpdate(block.transpose());
        s.xtx.triangularView<Eigen::Lower>() += partial.cast<double>();
      }
      s.seen += s.tokens;
    }
    progress << llvm::formatv("calibration: sample {0}/{1} ({2} tokens per tap)\n", i + 1,
                              samples.size(), stats.empty() ? 0 : stats.front().tokens);
    progress.flush();
  }

  // Write the file: symmetric XᵀX in row-major order.
  std::vector<rt::SafetensorsTensor> tensors;
  std::vector<std::vector<double>> xtxRowMajor;
  xtxRowMajor.reserve(stats.size());
  for (TapStats &s : stats) {
    const std::string &name = s.request->name;
    if (s.request->sumsq)
      tensors.push_back({{name + "/sumsq", "F64", {s.channels}, 0, 0}, s.sumsq.data()});
    if (s.request->absmax)
      tensors.push_back({{name + "/absmax", "F32", {s.channels}, 0, 0}, s.absmax.data()});
    if (s.request->xtx) {
      std::vector<double> full(s.channels * s.channels);
      for (int64_t r = 0; r < s.channels; ++r)
        for (int64_t c = 0; c < s.channels; ++c)
          full[r * s.channels + c] = r >= c ? s.xtx(r, c) : s.xtx(c, r);
      xtxRowMajor.push_back(std::move(full));
      tensors.push_back(
          {{name + "/xtx", "F64", {s.channels, s.channels}, 0, 0}, xtxRowMajor.back().data()});
    }
    tensors.push_back({{name + "/tokens", "I64", {1}, 0, 0}, &s.seen});
  }
  if (rt::Status st = rt::writeSafetensors(
          statsPath, std::move(tensors),
          {{"format", "sqz-calibration"},
           {"samples", std::to_string(samples.size())},
           {"source", sqz_model_source(m)}});
      !st)
    return makeError(st.message());
  return llvm::Error::success();
}

llvm::Error sqz::compression::mergeCalibrationFiles(llvm::ArrayRef<std::string> parts,
                                                    const std::string &statsPath) {
  std::vector<std::unique_ptr<rt::MappedSafetensors>> files;
  std::vector<rt::SafetensorsTensor> tensors;
  std::map<std::string, std::string> metadata{{"format", "sqz-calibration"},
                                              {"mode", "sequential"}};
  std::set<std::string> names;
  for (const std::string &part : parts) {
    auto file = std::make_unique<rt::MappedSafetensors>();
    if (rt::Status s = file->open(part); !s)
      return makeError("calibration statistics '" + part + "': " + s.message());
    for (const rt::SafetensorsEntry &e : file->entries()) {
      if (!names.insert(e.name).second)
        return makeError("calibration statistics: '" + e.name + "' is in two parts");
      rt::SafetensorsEntry entry = e;
      tensors.push_back({entry, file->data() + e.begin});
    }
    for (const auto &[key, value] : file->metadata())
      if (key == "samples" || key == "source")
        metadata[key] = value;
    files.push_back(std::move(file));
  }
  metadata["parts"] = std::to_string(parts.size());
  if (rt::Status st = rt::writeSafetensors(statsPath, std::move(tensors), metadata); !st)
    return makeError(st.message());
  return llvm::Error::success();
}
