//===- nnc.cpp - The nnc compiler driver ----------------------------------===//
//
// `nnc COMMAND model.nn [options]`. Each command lives in its own file of
// this directory with its own options (Compile.cpp, Report.cpp, MemPlan.cpp,
// Build.cpp, Train.cpp, Eval.cpp, Run.cpp, Predict.cpp, Bench.cpp, Plot.cpp);
// Driver.h holds what they share. Every error makes nnc exit with status 1; errors in
// the model file are located.
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
using namespace nnc::driver;

#ifndef NNC_VERSION
#define NNC_VERSION "unknown"
#endif

static void printVersion(raw_ostream &os) {
  os << "nnc " NNC_VERSION "\n  built with LLVM/MLIR " LLVM_VERSION_STRING "\n";
}

/// The command named `name`, or null.
static Command *findCommand(StringRef name) {
  for (Command *command : Command::all())
    if (command->sub.getName() == name)
      return command;
  return nullptr;
}

/// Checks argv[1] before LLVM parses the line: `nnc help [CMD]` becomes
/// `nnc [CMD] --help`, and a word that is no command is refused with the
/// closest command. Returns false after reporting.
static bool checkCommandWord(SmallVectorImpl<const char *> &args) {
  if (args.size() < 2 || StringRef(args[1]).starts_with("-"))
    return true;
  StringRef word = args[1];
  if (word == "help") {
    args.erase(args.begin() + 1);
    if (args.size() > 2)
      args.resize(2);
    args.push_back("--help");
    if (args.size() == 2 || findCommand(args[1]) || StringRef(args[1]) == "--help")
      return true;
    word = args[1];
  } else if (findCommand(word)) {
    return true;
  }
  std::string names, best;
  unsigned bestDistance = ~0u;
  for (Command *command : Command::all()) {
    StringRef name = command->sub.getName();
    names += (names.empty() ? "" : ", ") + name.str();
    unsigned d = word.edit_distance(name, /*AllowReplacements=*/true);
    if (d < bestDistance)
      bestDistance = d, best = name.str();
  }
  if (bestDistance <= std::max<size_t>(2, word.size() / 3))
    fail("unknown command '" + word + "'; did you mean '" + best + "'?");
  else
    fail("unknown command '" + word + "' (commands: " + names + "; see nnc help)");
  return false;
}

/// Whether `sub` (or every command) has an option spelled `name`, directly
/// or as a prefix option (`-Dname=value`).
static bool hasOption(cl::SubCommand &sub, StringRef name) {
  for (cl::SubCommand *s : {&sub, &cl::SubCommand::getTopLevel(), &cl::SubCommand::getAll()}) {
    if (s->OptionsMap.count(name))
      return true;
    for (size_t n = 1; n < name.size(); ++n) {
      auto it = s->OptionsMap.find(name.take_front(n));
      if (it != s->OptionsMap.end() && it->second->getFormattingFlag() == cl::Prefix)
        return true;
    }
  }
  return false;
}

/// Refuses, in one line, an option that belongs to other commands than the
/// one given (`nnc report --weights W`): LLVM's own message would send the
/// user to the top-level help and guess a spelling. Options no command has
/// are left to LLVM. Returns false after reporting.
static bool checkOptionsBelong(ArrayRef<const char *> args) {
  if (args.size() < 2)
    return true;
  Command *command = findCommand(args[1]);
  if (!command)
    return true;
  for (StringRef arg : args.drop_front(2)) {
    if (arg == "--")
      break;
    if (!arg.starts_with("-") || arg == "-")
      continue;
    StringRef name = arg.drop_while([](char c) { return c == '-'; }).split('=').first;
    if (name.empty() || hasOption(command->sub, name))
      continue;
    std::string owners;
    for (Command *other : Command::all())
      if (other != command && other->sub.OptionsMap.count(name))
        owners += (owners.empty() ? "" : ", ") + other->sub.getName().str();
    if (owners.empty())
      continue;
    std::string dashes = arg.starts_with("--") ? "--" : "-";
    fail("nnc " + command->sub.getName() + " has no option " + dashes + name +
         " (it is an option of " + owners + "; see nnc help " + command->sub.getName() + ")");
    return false;
  }
  return true;
}

int main(int argc, char **argv) {
  InitLLVM y(argc, argv);
  programPath() = argv[0];
  SmallVector<const char *> args(argv, argv + argc);
  if (!checkCommandWord(args) || !checkOptionsBelong(args))
    return 1;
  cl::SetVersionPrinter(printVersion);
  cl::HideUnrelatedOptions(category());
  for (Command *command : Command::all())
    cl::HideUnrelatedOptions(category(), command->sub);
  cl::ParseCommandLineOptions(int(args.size()), args.data(),
                              "nnc - a compiler for neural-net models\n\n"
                              "  nnc COMMAND model.nn [options]; nnc help COMMAND lists a "
                              "command's options\n");
  for (Command *command : Command::all()) {
    if (!command->sub)
      continue;
    int rc = command->run();
    if (!interrupted())
      return rc;
    // The command stopped early and removed its temporary files.
    if (!interruptReported())
      errs() << "nnc: interrupted\n";
    return interruptedExitCode;
  }
  return fail(
      "expected a command: compile, report, memplan, build, train, distill, eval, predict, run, "
      "bench, plot or generate (see nnc help)");
}
