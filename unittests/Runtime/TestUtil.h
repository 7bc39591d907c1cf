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
