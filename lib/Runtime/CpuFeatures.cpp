//===- CpuFeatures.cpp - Host CPU features an artifact needs ---------------===//
//
// See CpuFeatures.h. __builtin_cpu_supports takes string literals, so the known features are a
// table of (LLVM name, test).
//
//===----------------------------------------------------------------------===//

#include "Runtime/CpuFeatures.h"

#include <cstring>

using namespace sqz::runtime;

namespace {
struct FeatureTest {
  const char *name;
  bool (*supported)();
};

#if defined(__x86_64__) || defined(__i386__)
#define SQZ_FEATURE(llvmName, gccName)                                                        \
  {llvmName, [] { return __builtin_cpu_supports(gccName) != 0; }}
const FeatureTest kFeatures[] = {
    SQZ_FEATURE("sse4.2", "sse4.2"),         SQZ_FEATURE("popcnt", "popcnt"),
    SQZ_FEATURE("avx", "avx"),               SQZ_FEATURE("avx2", "avx2"),
    SQZ_FEATURE("fma", "fma"),               SQZ_FEATURE("f16c", "f16c"),
    SQZ_FEATURE("bmi", "bmi"),               SQZ_FEATURE("bmi2", "bmi2"),
    SQZ_FEATURE("avx512f", "avx512f"),       SQZ_FEATURE("avx512bw", "avx512bw"),
    SQZ_FEATURE("avx512dq", "avx512dq"),     SQZ_FEATURE("avx512vl", "avx512vl"),
    SQZ_FEATURE("avx512cd", "avx512cd"),     SQZ_FEATURE("avx512vnni", "avx512vnni"),
    SQZ_FEATURE("avx512bf16", "avx512bf16"), SQZ_FEATURE("avx512fp16", "avx512fp16"),
    SQZ_FEATURE("avxvnni", "avxvnni"),
};
#undef SQZ_FEATURE
#else
const FeatureTest kFeatures[] = {{"", nullptr}};
#endif

const FeatureTest *find(const std::string &feature) {
  for (const FeatureTest &test : kFeatures)
    if (test.supported && feature == test.name)
      return &test;
  return nullptr;
}
} // namespace

bool sqz::runtime::isCheckableCpuFeature(const std::string &feature) {
  return find(feature) != nullptr;
}

bool sqz::runtime::hostHasCpuFeature(const std::string &feature) {
  const FeatureTest *test = find(feature);
  return test && test->supported();
}

std::vector<std::string> sqz::runtime::missingCpuFeatures(const std::vector<std::string> &required,
                                                          bool (*has)(const std::string &)) {
  std::vector<std::string> missing;
  for (const std::string &feature : required)
    if (isCheckableCpuFeature(feature) && !(has ? has(feature) : hostHasCpuFeature(feature)))
      missing.push_back(feature);
  return missing;
}
