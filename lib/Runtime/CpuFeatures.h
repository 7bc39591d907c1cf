//===- CpuFeatures.h - Host CPU features an artifact needs ------*- C++ -*-===//
//
// sqz-compile records in the manifest the instruction-set features its target CPU enables
// ("cpu_features": ["avx2", "fma", "avx512f", ...]); the runtime refuses, at load, an
// artifact whose code would fault on this CPU (an AVX-512 build on an AVX2 machine).
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_RUNTIME_CPUFEATURES_H
#define SQZ_RUNTIME_CPUFEATURES_H

#include <string>
#include <vector>

namespace sqz {
namespace runtime {

/// Whether the host supports a feature, by LLVM's feature name ("avx2", "avx512vnni", ...);
/// false for a name this runtime does not know.
bool hostHasCpuFeature(const std::string &feature);

/// Whether this runtime can test a feature on this host (known name, x86 host).
bool isCheckableCpuFeature(const std::string &feature);

/// The checkable features of `required` that `has` says are missing (`has` defaults to the
/// host's; tests pass another predicate).
std::vector<std::string> missingCpuFeatures(const std::vector<std::string> &required,
                                            bool (*has)(const std::string &) = nullptr);

} // namespace runtime
} // namespace sqz

#endif // SQZ_RUNTIME_CPUFEATURES_H
