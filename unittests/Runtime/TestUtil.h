//===- TestUtil.h - Helpers shared by the runtime unit tests ----*- C++ -*-===//
//
// Temporary directories, whole-file I/O, test artifacts built from the test
// model libraries, and running a subprocess with its output captured.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_UNITTESTS_RUNTIME_TESTUTIL_H
#define SQZ_UNITTESTS_RUNTIME_TESTUTIL_H

#include <string>
#include <vector>

namespace sqz {
namespace test {

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;

  const std::string &path() const { return dirPath; }
  /// path() + "/" + name.
  std::string file(const std::string &name) const;

private:
  std::string dirPath;
};

void writeFile(const std::string &path, const std::string &contents);
std::string readFile(const std::string &path);
bool fileExists(const std::string &path);
/// Names in a directory, without "." and "..", sorted.
std::vector<std::string> listDir(const std::string &path);

/// The manifest of the test model (TestModel.c):
///   inputs  x: float32[2,3], k: int32[]
///   outputs y: float32[2,3] = x * k, is/pos: bool[2,3] = x > 0
std::string testModelManifest(const std::string &entry = "sqz_model_invoke");

/// The manifest of the ABI 3 test model (TestModelDynamic.c):
///   inputs  x: float32[batch, seq] (bounds 4, 8), past: float32[batch, past], k: int32[]
///   outputs y: float32[batch, seq] = x + k, cat: float32[batch, ?] = concat(past, x)
/// `x`, `past`, `y` and `cat` replace the JSON after each tensor's name and dtype, `extra`
/// (ending with a comma) is added to the top level.
std::string testDynamicModelManifest(
    const std::string &x = R"("shape": [-1, -1], "dim_names": ["batch", "seq"],
                              "max_shape": [4, 8])",
    const std::string &past = R"("shape": [-1, -1], "dim_names": ["batch", "past"])",
    const std::string &y = R"("shape": [-1, -1], "dim_names": ["batch", "seq"])",
    const std::string &cat = R"("shape": [-1, -1], "dim_names": ["batch", ""],
                                "max_shape": [-1, -1])",
    const std::string &extra = "", const std::string &entry = "sqz_model_invoke");

/// The manifest of the KV-cache toy LM (TestLM.c): input_ids, attention_mask, position_ids,
/// past_key_values.<i>.key/.value -> logits, present.<i>.key/.value for `layers` layers. The
/// arguments replace the JSON after the name of input_ids and of the past inputs and the name
/// of present.0.key, and add inputs after the others (starting with ", ").
extern const char kTestLMPast[];
std::string testLMManifest(const std::string &ids = R"("shape": [-1, -1],
                                                   "dim_names": ["batch", "seq"],
                                                   "max_shape": [1, 32])",
                           const std::string &past = kTestLMPast,
                           const std::string &presentKey = "present.0.key",
                           const std::string &extraInput = "", int layers = 1);

/// Makes `dir` an artifact: model.so (a symlink to `library`) and
/// manifest.json with the given text.
void makeArtifact(const std::string &dir, const std::string &library,
                  const std::string &manifest);

struct ProcessResult {
  int exitCode = -1;
  std::string out;
  std::string err;
};

/// Runs `argv` (argv[0] is the executable's path) in `cwd`, capturing stdout
/// and stderr.
ProcessResult runProcess(const std::vector<std::string> &argv,
                         const std::string &cwd = ".");

} // namespace test
} // namespace sqz

#endif // SQZ_UNITTESTS_RUNTIME_TESTUTIL_H
