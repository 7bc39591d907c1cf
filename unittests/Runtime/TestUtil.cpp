//===- TestUtil.cpp - Helpers shared by the runtime unit tests ------------===//

#include "TestUtil.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace sqz::test;

TempDir::TempDir() {
  const char *base = std::getenv("TMPDIR");
  std::string templ =
      std::string(base && *base ? base : "/tmp") + "/sqz-rt-test-XXXXXX";
  std::vector<char> buffer(templ.begin(), templ.end());
  buffer.push_back('\0');
  if (!mkdtemp(buffer.data())) {
    ADD_FAILURE() << "mkdtemp failed for " << templ;
    return;
  }
  dirPath = buffer.data();
}

TempDir::~TempDir() {
  if (dirPath.empty())
    return;
  nftw(
      dirPath.c_str(),
      [](const char *path, const struct stat *, int, struct FTW *) {
        return ::remove(path);
      },
      16, FTW_DEPTH | FTW_PHYS);
}

std::string TempDir::file(const std::string &name) const {
  return dirPath + "/" + name;
}

void sqz::test::writeFile(const std::string &path,
                          const std::string &contents) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(std::fwrite(contents.data(), 1, contents.size(), f),
            contents.size());
  ASSERT_EQ(std::fclose(f), 0);
}

std::string sqz::test::readFile(const std::string &path) {
  std::string result;
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    ADD_FAILURE() << "cannot open " << path;
    return result;
  }
  char chunk[4096];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0)
    result.append(chunk, n);
  std::fclose(f);
  return result;
}

bool sqz::test::fileExists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> sqz::test::listDir(const std::string &path) {
  std::vector<std::string> names;
  DIR *dir = opendir(path.c_str());
  if (!dir) {
    ADD_FAILURE() << "cannot list " << path;
    return names;
  }
  while (struct dirent *entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..")
      names.push_back(name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

std::string sqz::test::testModelManifest(const std::string &entry) {
  return R"({
  "format": "sqz-artifact",
  "abi_version": 1,
  "library": "model.so",
  "entry": ")" +
         entry + R"(",
  "source": "test.onnx",
  "inputs": [{"name": "x", "dtype": "float32", "shape": [2, 3]},
             {"name": "k", "dtype": "int32", "shape": []}],
  "outputs": [{"name": "y", "dtype": "float32", "shape": [2, 3]},
              {"name": "is/pos", "dtype": "bool", "shape": [2, 3]}]
}
)";
}

std::string sqz::test::testDynamicModelManifest(const std::string &x, const std::string &past, const std::string &y, const std::string &cat, const std::string &extra, const std::string &entry) {
  return R"({
  "format": "sqz-artifact",
  "abi_version": 3,
  "library": "model.so",
  "entry": ")" +
         entry + "\",\n" + extra + R"(
  "inputs": [{"name": "x", "dtype": "float32", )" +
         x + R"(},
             {"name": "past", "dtype": "float32", )" +
         past + R"(},
             {"name": "k", "dtype": "int32", "shape": []}],
  "outputs": [{"name": "y", "dtype": "float32", )" +
         y + R"(},
              {"name": "cat", "dtype": "float32", )" +
         cat + R"(}]
}
)";
}

const char sqz::test::kTestLMPast[] = R"("shape": [1, 2, -1, 3], "dim_names": ["", "", "past", ""],
                        "max_shape": [1, 2, 40, 3])";

std::string sqz::test::testLMManifest(const std::string &ids, const std::string &past,
                                      const std::string &presentKey,
                                      const std::string &extraInput, int layers) {
  std::string pasts, presents;
  for (int l = 0; l < layers; ++l) {
    std::string i = std::to_string(l);
    for (const char *part : {".key", ".value"}) {
      pasts += R"(,
    {"name": "past_key_values.)" + i + part + R"(", "dtype": "float32", )" + past + "}";
      std::string name = l == 0 && std::string(part) == ".key" ? presentKey
                                                               : "present." + i + part;
      presents += R"(,
    {"name": ")" + name + R"(", "dtype": "float32", "shape": [1, 2, -1, 3]})";
    }
  }
  return R"({"format": "sqz-artifact", "abi_version": 3, "library": "model.so",
  "entry": "sqz_model_invoke",
  "inputs": [{"name": "input_ids", "dtype": "int64", )" +
         ids + R"(},
    {"name": "attention_mask", "dtype": "int64", "shape": [-1, -1],
     "dim_names": ["batch", "total"]},
    {"name": "position_ids", "dtype": "int64", "shape": [-1, -1], "dim_names": ["batch", "seq"]})" +
         pasts + extraInput + R"(],
  "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, -1, 16],
               "dim_names": ["batch", "seq", ""]})" +
         presents + R"(]}
)";
}

void sqz::test::makeArtifact(const std::string &dir,
                             const std::string &library,
                             const std::string &manifest) {
  std::string link = dir + "/model.so";
  ::unlink(link.c_str());
  ASSERT_EQ(::symlink(library.c_str(), link.c_str()), 0) << link;
  writeFile(dir + "/manifest.json", manifest);
}

ProcessResult sqz::test::runProcess(const std::vector<std::string> &argv,
                                    const std::string &cwd) {
  ProcessResult result;
  TempDir capture;
  std::string outPath = capture.file("stdout");
  std::string errPath = capture.file("stderr");
  std::vector<char *> args;
  for (const std::string &arg : argv)
    args.push_back(const_cast<char *>(arg.c_str()));
  args.push_back(nullptr);

  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int out = ::open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0 ||
        chdir(cwd.c_str()) != 0)
      _exit(127);
    execv(args[0], args.data());
    _exit(127);
  }
  if (pid < 0) {
    ADD_FAILURE() << "fork failed";
    return result;
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
    ADD_FAILURE() << argv[0] << " did not exit normally";
    return result;
  }
  result.exitCode = WEXITSTATUS(status);
  result.out = readFile(outPath);
  result.err = readFile(errPath);
  return result;
}
