//===- Distill.cpp - nnc distill: train a student on a teacher's logits ---===//
//
//   nnc distill student.nn --teacher T.nn --teacher-weights W.safetensors
//       [--temperature T] [--alpha A] [--teacher-define name=value]...
//       [the training flags of nnc train] -o S.safetensors
//
// Knowledge distillation (docs/training.md): the student is compiled with a
// distillation @train_step (-nn-autodiff distill-temperature/distill-alpha),
// the teacher's inference model is compiled for the student's batch and
// loaded with its weights in the same process, and before each step the
// teacher runs on the batch the student reads and its logits go into the
// step's `teacher_logits` input (runtime/Train.h TrainOptions::batchHook).
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"

#include "runtime/Train.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand distillCmd("distill", "Train a student model on the soft targets of a trained "
                                     "teacher (knowledge distillation) on the CPU");

ModelOptions model(distillCmd);
OptimizerOptions optimizer(distillCmd);
ThreadsOption threads(distillCmd);
DataFlags dataFlags(distillCmd);

// The teacher.
cl::opt<std::string> teacherFile("teacher", cl::desc("The teacher model file"),
                                 cl::value_desc("T.nn"), cl::sub(distillCmd), cl::cat(category()));
cl::opt<std::string> teacherWeights("teacher-weights",
                                    cl::desc("The teacher's trained weights (safetensors)"),
                                    cl::value_desc("W.safetensors"), cl::sub(distillCmd),
                                    cl::cat(category()));
cl::list<std::string> teacherDefines("teacher-define",
                                     cl::desc("Override a hyperparameter of the teacher: "
                                              "--teacher-define name=value"),
                                     cl::value_desc("name=value"), cl::sub(distillCmd),
                                     cl::cat(category()));
cl::opt<std::string> teacherModelName("teacher-model",
                                      cl::desc("The model of the teacher file (default: the "
                                               "only one)"),
                                      cl::value_desc("name"), cl::sub(distillCmd),
                                      cl::cat(category()));
cl::opt<double> temperature("temperature",
                            cl::desc("Softmax temperature of the soft targets, > 0 (default 4)"),
                            cl::init(4.0), cl::sub(distillCmd), cl::cat(category()));
cl::opt<double> alpha("alpha",
                      cl::desc("Weight of the soft-target (KL) term, in [0, 1]; the hard-label "
                               "cross entropy gets 1 - alpha (default 0.9)"),
                      cl::init(0.9), cl::sub(distillCmd), cl::cat(category()));

// Training flags (as nnc train's).
cl::opt<std::string> outputFilename("o", cl::desc("Write the student's weights here"),
                                    cl::value_desc("S.safetensors"), cl::sub(distillCmd),
                                    cl::cat(category()));
cl::opt<int64_t> epochs("epochs", cl::desc("Epochs, >= 1 (default: the student's)"), cl::init(0),
                        cl::sub(distillCmd), cl::cat(category()));
cl::opt<double> learningRate("lr", cl::desc("Learning rate, > 0 (default: the student's)"),
                             cl::init(0), cl::sub(distillCmd), cl::cat(category()));
cl::opt<std::string> schedule("schedule",
                              cl::desc("constant | step | cosine (default: the student's)"),
                              cl::sub(distillCmd), cl::cat(category()));
cl::opt<int64_t> trainLimit("limit", cl::desc("Use only the first N training samples (N >= 1)"),
                            cl::init(0), cl::sub(distillCmd), cl::cat(category()));
cl::opt<int64_t> testLimit("test-limit", cl::desc("Use only the first N test samples (N >= 1)"),
                           cl::init(0), cl::sub(distillCmd), cl::cat(category()));
cl::opt<std::string> metricsPath("metrics", cl::desc("Write metrics as JSON lines here"),
                                 cl::sub(distillCmd), cl::cat(category()));

/// The teacher's model options, set from the --teacher flags: they belong to
/// a subcommand that is never registered, so they are not flags of their own.
cl::SubCommand teacherOptionsSub;
ModelOptions teacherModel(teacherOptionsSub);
} // namespace

/// `name` [d0, d1, ...] (dtype).
static std::string describe(const nnc::rt::Region &r) {
  std::string s = "'" + r.name + "' [";
  for (size_t i = 0; i < r.shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(r.shape[i]);
  return s + "] (" + r.dtype + ")";
}

/// The model input of the student's train_step (the images it reads).
static const nnc::rt::Region *studentInput(const nnc::rt::Model &student) {
  for (const nnc::rt::Region &r : student.regions()) {
    StringRef name = r.name;
    if (r.kind == "input" && name.consume_front("train_step.") &&
        !is_contained({"labels", "lr", "step", "seed", "teacher_logits"}, name))
      return &r;
  }
  return nullptr;
}

/// `nnc distill`: compile the student for distillation and the teacher for
/// inference, then train the student with the teacher's logits.
static int runDistill() {
  nnc::rt::DataOptions dataOptions;
  if (!model.check() || !optimizer.check() || !threads.check() || !checkRange(epochs, 1) ||
      !checkReal(learningRate, 0, /*strict=*/true) ||
      !checkChoice(schedule, {"constant", "step", "cosine"}) || !checkRange(trainLimit, 1) ||
      !checkRange(testLimit, 1) || !checkReal(temperature, 0, /*strict=*/true) ||
      !checkReal(alpha, 0, /*strict=*/false, 1) || !dataFlags.toOptions(dataOptions))
    return 1;
  if (teacherFile.empty() || teacherWeights.empty())
    return fail("nnc distill needs --teacher T.nn (the teacher model) and --teacher-weights "
                "W.safetensors (its trained weights)");
  if (!sys::fs::exists(teacherWeights))
    return fail("cannot open the teacher's weights '" + teacherWeights +
                "': no such file (train the teacher first: nnc train " + teacherFile + " -o " +
                teacherWeights + ")");
  if (outputFilename.empty() || outputFilename == "-")
    return fail("nnc distill needs -o S.safetensors: the student's weights are written there");

  // The student, with a distillation step.
  BuildRequest studentRequest{model, &optimizer};
  studentRequest.distill = DistillLoss{temperature, alpha};
  std::unique_ptr<LoadedModel> student = loadModel(studentRequest, threads.value());
  if (!student)
    return 1;
  nnc::rt::Model &s = *student->model;
  const nnc::rt::Region *logitsIn = s.region("train_step.teacher_logits");
  const nnc::rt::Region *input = studentInput(s);
  if (!logitsIn || !input || logitsIn->shape.size() != 2)
    return fail("student '" + s.name() +
                "': nnc distill needs a classifier with one input and [N, classes] logits");

  // The teacher, for the student's batch, with its weights.
  teacherModel.input = teacherFile;
  teacherModel.modelName = teacherModelName;
  for (const std::string &define : teacherDefines)
    teacherModel.defines.push_back(define);
  teacherModel.impliedBatch = input->shape[0];
  std::unique_ptr<LoadedModel> teacher =
      loadModelWithWeights(teacherModel, teacherWeights, threads.value());
  if (!teacher)
    return 1;
  nnc::rt::Model &t = *teacher->model;
  const nnc::rt::Region *teacherIn = nullptr, *teacherOut = nullptr;
  if (failed(forwardIO(t, teacherIn, teacherOut)))
    return 1;
  if (teacherOut->shape.size() != 2 || teacherOut->shape[1] != logitsIn->shape[1] ||
      teacherOut->dtype != logitsIn->dtype)
    return fail(formatv("the teacher '{0}' has {1} classes (its output {2}), the student '{3}' "
                        "has {4}: distillation needs the same classes",
                        t.name(), teacherOut->shape.size() == 2 ? teacherOut->shape[1] : -1,
                        describe(*teacherOut), s.name(), logitsIn->shape[1]));
  if (teacherIn->shape != input->shape || teacherIn->dtype != input->dtype)
    return fail("the teacher's input " + describe(*teacherIn) + " does not match the student's " +
                describe(*input) +
                ": both read the same samples of the data (set the teacher's input shape with "
                "--teacher-define)");

  nnc::rt::TrainOptions options;
  options.dataset = dataOptions;
  options.epochs = epochs.getNumOccurrences() ? int64_t(epochs) : student->graph.train.epochs;
  options.lr = learningRate.getNumOccurrences() ? double(learningRate) : student->graph.train.lr;
  options.schedule =
      schedule.getNumOccurrences() ? std::string(schedule) : student->graph.train.schedule;
  options.seed = dataOptions.seed;
  options.trainLimit = trainLimit;
  options.testLimit = testLimit;
  options.checkpoint = outputFilename;
  options.metrics = metricsPath;
  options.threads = threads.value();
  options.stop = interruptFlag();
  // Each batch: the teacher reads the student's samples (both normalize them
  // in their own compiled code) and its logits become the soft targets.
  options.batchHook = [&](nnc::rt::Model &m, int64_t) -> nnc::rt::Status {
    std::memcpy(t.data(*teacherIn), m.data(*input), size_t(input->bytes));
    if (nnc::rt::Status st = t.run("forward"); st.failed())
      return st;
    std::memcpy(m.data(*logitsIn), t.data(*teacherOut), size_t(logitsIn->bytes));
    return nnc::rt::Status::success();
  };
  errs() << formatv("nnc: distilling {0} (teacher, {1}) into {2} at temperature {3}, alpha {4}\n",
                    t.name(), teacherWeights, s.name(), double(temperature), double(alpha));
  auto result = nnc::rt::train(s, options);
  if (!result)
    return fail(result.message());
  if (result->stopped) {
    errs() << "nnc: interrupted after " << result->steps << " training steps\n";
    interruptReported() = true;
    return interruptedExitCode;
  }
  outs() << formatv("test accuracy {0:F1}%", 100 * result->testAccuracy) << "   (saved "
         << options.checkpoint << ")\n";
  return 0;
}

static Command registration(distillCmd, runDistill);
