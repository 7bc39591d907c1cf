//===- Recipe.cpp - Compression recipes (YAML) ----------------------------===//

#include "sqz/Compression/Recipe.h"

#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/YAMLParser.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstdio>
#include <unistd.h>

using namespace sqz::compression;
namespace yaml = llvm::yaml;

/// The passes recipes may name, in documentation order; only registered ones are valid.
static const char *const kCompressionStages[] = {
    "prune",    "sparsify-nm",       "prune-structured", "quantize",
    "quantize-outliers", "instrument"};

static llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

bool RecipeStage::has(llvm::StringRef option) const {
  return llvm::any_of(options, [&](const auto &o) { return o.first == option; });
}

std::string RecipeStage::textualPipeline() const {
  std::string text = passArgument();
  if (options.empty())
    return text;
  text += "{";
  for (size_t i = 0; i < options.size(); ++i)
    text += (i ? " " : "") + options[i].first + "=" + options[i].second;
  return text + "}";
}

std::string Recipe::textualPipeline() const {
  std::string text;
  for (size_t i = 0; i < stages.size(); ++i)
    text += (i ? "," : "") + stages[i].textualPipeline();
  return text;
}

std::vector<std::string> sqz::compression::getRecipeStageNames() {
  std::vector<std::string> names;
  for (const char *name : kCompressionStages)
    if (mlir::PassInfo::lookup(std::string("sqz-") + name))
      names.push_back(name);
  return names;
}

std::vector<std::string> sqz::compression::getPassOptionNames(llvm::StringRef passArgument) {
  const mlir::PassInfo *info = mlir::PassInfo::lookup(passArgument);
  if (!info)
    return {};
  // MLIR describes a pass's options only in its help text, which PassRegistryEntry prints to
  // llvm::outs(): capture that (stdout pointed at a temporary file meanwhile) and take the
  // "--name=<type>" lines after the pass's own.
  std::string help;
  llvm::outs().flush();
  std::fflush(stdout);
  int saved = dup(STDOUT_FILENO);
  std::FILE *capture = std::tmpfile();
  if (saved < 0 || !capture) {
    if (saved >= 0)
      close(saved);
    return {};
  }
  dup2(fileno(capture), STDOUT_FILENO);
  info->printHelpStr(/*indent=*/0, /*descIndent=*/40);
  llvm::outs().flush();
  std::fflush(stdout);
  dup2(saved, STDOUT_FILENO);
  close(saved);
  std::rewind(capture);
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), capture)) > 0)
    help.append(buffer, n);
  std::fclose(capture);
  std::vector<std::string> names;
  llvm::SmallVector<llvm::StringRef> lines;
  llvm::StringRef(help).split(lines, '\n');
  for (size_t i = 1; i < lines.size(); ++i) {
    llvm::StringRef line = lines[i].ltrim();
    // "--name=<type>", or "-n <type>" for one-letter options.
    if (!line.consume_front("--") && !line.consume_front("-"))
      continue;
    size_t end = line.find_first_of("= ");
    names.push_back(line.take_front(end).str());
  }
  std::sort(names.begin(), names.end());
  return names;
}

/// An option value as MLIR's option parser wants it: quoted unless it is a plain token.
static std::string quoteValue(llvm::StringRef value) {
  bool plain = !value.empty() && llvm::all_of(value, [](char c) {
    return llvm::isAlnum(c) || c == '.' || c == '-' || c == '_' || c == '+';
  });
  if (plain)
    return value.str();
  std::string out = "\"";
  for (char c : value) {
    if (c == '"')
      out += "\\\"";
    else
      out += c;
  }
  return out + "\"";
}

llvm::Expected<Recipe> sqz::compression::parseRecipe(llvm::StringRef text,
                                                      llvm::StringRef fileName) {
  llvm::SourceMgr sm;
  std::string diagnostics;
  llvm::raw_string_ostream diagStream(diagnostics);
  sm.setDiagHandler(
      [](const llvm::SMDiagnostic &d, void *ctx) {
        d.print(nullptr, *static_cast<llvm::raw_string_ostream *>(ctx), /*ShowColors=*/false);
      },
      &diagStream);
  yaml::Stream stream(text, sm);
  auto lineOf = [&](yaml::Node *node) {
    return node ? sm.getLineAndColumn(node->getSourceRange().Start).first : 0u;
  };
  auto fail = [&](yaml::Node *node, const llvm::Twine &message) {
    return makeError(llvm::formatv("{0}:{1}: {2}", fileName, lineOf(node), message.str()));
  };
  std::vector<std::string> validStages = getRecipeStageNames();
  Recipe recipe;
  yaml::document_iterator doc = stream.begin();
  if (doc == stream.end() || !doc->getRoot() || llvm::isa<yaml::NullNode>(doc->getRoot()))
    return makeError(fileName + ": empty recipe");
  auto *list = llvm::dyn_cast<yaml::SequenceNode>(doc->getRoot());
  if (!list) {
    if (stream.failed())
      return makeError(llvm::StringRef(diagnostics).trim());
    return fail(doc->getRoot(), "a recipe is a list of stages ('- prune: {...}')");
  }
  for (yaml::Node &item : *list) {
    auto *map = llvm::dyn_cast<yaml::MappingNode>(&item);
    if (!map)
      return fail(&item, "each stage is a map with one key, the stage name");
    RecipeStage stage;
    stage.line = lineOf(&item);
    unsigned keys = 0;
    for (yaml::KeyValueNode &kv : *map) {
      if (++keys > 1)
        return fail(&item, "a stage has exactly one key, the stage name");
      auto *key = llvm::dyn_cast<yaml::ScalarNode>(kv.getKey());
      if (!key)
        return fail(kv.getKey(), "the stage name must be a plain string");
      llvm::SmallString<32> storage;
      stage.name = key->getValue(storage).str();
      if (llvm::find(validStages, stage.name) == validStages.end())
        return fail(key, "unknown stage '" + stage.name +
                             "' (valid: " + llvm::join(validStages, ", ") + ")");
      std::vector<std::string> validOptions = getPassOptionNames(stage.passArgument());
      yaml::Node *value = kv.getValue();
      if (!value || llvm::isa<yaml::NullNode>(value))
        continue; // defaults only
      auto *options = llvm::dyn_cast<yaml::MappingNode>(value);
      if (!options)
        return fail(value, "the options of stage '" + stage.name +
                               "' must be a map ({key: value, ...})");
      for (yaml::KeyValueNode &option : *options) {
        auto *optionKey = llvm::dyn_cast<yaml::ScalarNode>(option.getKey());
        if (!optionKey)
          return fail(option.getKey(), "option names must be plain strings");
        llvm::SmallString<32> keyStorage;
        std::string name = optionKey->getValue(keyStorage).str();
        if (llvm::find(validOptions, name) == validOptions.end())
          return fail(optionKey, "unknown option '" + name + "' of stage '" + stage.name +
                                     "' (valid: " + llvm::join(validOptions, ", ") + ")");
        if (stage.has(name))
          return fail(optionKey, "option '" + name + "' is given twice");
        std::string rendered;
        if (auto *scalar = llvm::dyn_cast<yaml::ScalarNode>(option.getValue())) {
          llvm::SmallString<64> s;
          rendered = quoteValue(scalar->getValue(s));
        } else if (auto *seq = llvm::dyn_cast<yaml::SequenceNode>(option.getValue())) {
          for (yaml::Node &element : *seq) {
            auto *scalar = llvm::dyn_cast<yaml::ScalarNode>(&element);
            if (!scalar)
              return fail(&element, "list option '" + name + "' must hold plain values");
            llvm::SmallString<64> s;
            rendered += (rendered.empty() ? "" : ",") + quoteValue(scalar->getValue(s));
          }
        } else {
          return fail(option.getValue(),
                      "option '" + name + "' must be a value or a list of values");
        }
        stage.options.emplace_back(name, rendered);
      }
    }
    if (keys == 0)
      return fail(&item, "empty stage");
    recipe.stages.push_back(std::move(stage));
  }
  if (stream.failed())
    return makeError(llvm::StringRef(diagnostics).trim());
  if (recipe.stages.empty())
    return makeError(fileName + ": the recipe has no stages");
  // Every stage's options must parse (types, enum values): build the pipeline once.
  mlir::OpPassManager pm;
  std::string error;
  llvm::raw_string_ostream errorStream(error);
  if (mlir::failed(mlir::parsePassPipeline(recipe.textualPipeline(), pm, errorStream)))
    return makeError(fileName + ": " + llvm::StringRef(error).trim());
  return recipe;
}

llvm::Expected<Recipe> sqz::compression::loadRecipe(llvm::StringRef path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> file = llvm::MemoryBuffer::getFile(path);
  if (!file)
    return makeError("cannot read recipe '" + path + "': " + file.getError().message());
  return parseRecipe((*file)->getBuffer(), path);
}
