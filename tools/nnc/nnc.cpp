//===- nnc.cpp - The nnc compiler driver ----------------------------------===//
//
// `nnc COMMAND model.nn [options]`. Each command lives in its own file of
// this directory with its own options (Compile.cpp, Report.cpp, Build.cpp,
// Train.cpp, Eval.cpp, Run.cpp, Predict.cpp, Bench.cpp); Driver.h holds what
// they share. Every error makes nnc exit with status 1; errors in the model
// file are located.
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"

#include "llvm/Support/InitLLVM.h"

using namespace llvm;
using namespace nnc::driver;

int main(int argc, char **argv) {
  InitLLVM y(argc, argv);
  programPath() = argv[0];
  cl::HideUnrelatedOptions(category());
  for (Command *command : Command::all())
    cl::HideUnrelatedOptions(category(), command->sub);
  cl::ParseCommandLineOptions(argc, argv,
                              "nnc - a compiler for neural-net models\n\n"
                              "  nnc compile model.nn -emit=ast|nn\n"
                              "  nnc report model.nn --batch 64 --optimizer adam\n");
  for (Command *command : Command::all())
    if (command->sub)
      return command->run();
  return fail("expected a command: compile, report, build, train, eval, predict, bench "
              "or run (see nnc --help)");
}
