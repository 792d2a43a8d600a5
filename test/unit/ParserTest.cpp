//===- ParserTest.cpp - Tests of the model-file parser and AST dump -------===//
//
// Each test parses a small text and checks the tree (through the AST API and
// through dumpAST) or the exact located diagnostic. The robustness tests feed
// every prefix of a valid file, mutated files and hostile nesting to the
// parser: it must never crash and must report exactly one error on failure.
//
//===----------------------------------------------------------------------===//

#include "frontend/Parser.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <random>
#include <string>

using namespace nnc;
using namespace nnc::ast;
using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

namespace {

/// Parses `text` as test.nn; keeps the SourceMgr alive for the AST.
struct ParseResult {
  llvm::SourceMgr srcMgr;
  std::unique_ptr<Module> module;
  std::string diags;
  unsigned numErrors = 0;

  std::string dump() const {
    std::string s;
    llvm::raw_string_ostream os(s);
    if (module)
      dumpAST(*module, srcMgr, os);
    return s;
  }
  /// The first line of the diagnostics.
  std::string error() const { return diags.substr(0, diags.find('\n')); }
};

std::unique_ptr<ParseResult> parse(llvm::StringRef text) {
  auto result = std::make_unique<ParseResult>();
  result->srcMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(text, "test.nn"), llvm::SMLoc());
  llvm::raw_string_ostream os(result->diags);
  DiagEngine diag(result->srcMgr, os);
  result->module = parseModelFile(diag);
  result->numErrors = diag.getNumErrors();
  return result;
}

/// Parses `text`, expecting success, and returns its dump.
std::string dumpOf(llvm::StringRef text) {
  auto result = parse(text);
  EXPECT_TRUE(result->module) << result->diags;
  EXPECT_EQ(result->diags, "");
  return result->dump();
}

/// Expects `text` to fail with exactly one error whose first line is
/// `expected`.
void expectError(llvm::StringRef text, const std::string &expected) {
  auto result = parse(text);
  EXPECT_FALSE(result->module) << text.str();
  EXPECT_EQ(result->numErrors, 1u) << text.str();
  EXPECT_EQ(result->error(), expected) << text.str();
}

/// Parses `model m { x = <expr> }` and returns the dump of the expression
/// (the lines under `Assign`, unindented by 4).
std::string exprDump(llvm::StringRef expr) {
  std::string dump = dumpOf(("model m {\n  x = " + expr + "\n}\n").str());
  std::string result;
  llvm::StringRef rest(dump);
  while (!rest.empty()) {
    auto [line, tail] = rest.split('\n');
    rest = tail;
    if (line.starts_with("    "))
      result += line.drop_front(4).str() + "\n";
  }
  return result;
}

const char *const kLeNet = R"(# LeNet-5.
model lenet(classes = 10) {
  input image: f32[N, 1, 28, 28]          # N: the symbolic batch dimension
  x = conv2d(image, out=6, kernel=5, padding=2) |> relu |> maxpool2d(2)
  x = conv2d(x, out=16, kernel=5) |> relu |> maxpool2d(2)
  x = flatten(x) |> linear(120) |> relu |> linear(84) |> relu
  output logits = linear(x, classes)

  train { loss = cross_entropy; optimizer = adam; lr = 0.001; batch = 64; epochs = 5 }
}
)";

const char *const kResNetPart = R"(block basic(channels, stride = 1) {
  input x
  y = conv2d(x, channels, 3, padding=1, bias=false) as c1 |> batchnorm2d
  output add(x, y) |> relu
}
model net(depth = 2, width = 16) {
  input image: f32[N, 3, 32, 32]; x = image
  repeat depth { x = basic(x, width) }
  repeat i in depth - 1 { x = basic(x, 2 * width) as b; ; }
  output global_avgpool(x) |> linear(10) as head
}
)";

//===----------------------------------------------------------------------===//
// Trees
//===----------------------------------------------------------------------===//

TEST(ParserTest, EmptyFiles) {
  for (const char *text : {"", "\n\n", "# only a comment\n", "  # c\n# d"}) {
    auto result = parse(text);
    ASSERT_TRUE(result->module) << text;
    EXPECT_TRUE(result->module->definitions.empty());
    EXPECT_EQ(result->diags, "");
  }
}

TEST(ParserTest, LeNetTree) {
  auto result = parse(kLeNet);
  ASSERT_TRUE(result->module) << result->diags;
  ASSERT_EQ(result->module->definitions.size(), 1u);
  const Definition &def = *result->module->definitions[0];
  EXPECT_TRUE(def.isModel());
  EXPECT_EQ(def.getName(), "lenet");
  ASSERT_EQ(def.getParams().size(), 1u);
  EXPECT_EQ(def.getParams()[0].name, "classes");
  EXPECT_EQ(cast<IntExpr>(*def.getParams()[0].defaultValue).getValue(), 10);
  ASSERT_EQ(def.getBody().size(), 6u);

  auto &input = cast<InputStmt>(*def.getBody()[0]);
  EXPECT_EQ(input.getName(), "image");
  ASSERT_TRUE(input.getType());
  EXPECT_EQ(input.getType()->dtype, "f32");
  ASSERT_EQ(input.getType()->dims.size(), 4u);
  EXPECT_EQ(cast<IdentExpr>(*input.getType()->dims[0]).getName(), "N");

  // x = conv2d(...) |> relu |> maxpool2d(2) is maxpool2d(relu(conv2d(...)), 2).
  auto &assign = cast<AssignStmt>(*def.getBody()[1]);
  EXPECT_EQ(assign.getName(), "x");
  auto &pool = cast<CallExpr>(assign.getValue());
  EXPECT_EQ(pool.getCallee(), "maxpool2d");
  EXPECT_TRUE(pool.isPiped());
  ASSERT_EQ(pool.getArgs().size(), 2u);
  EXPECT_EQ(cast<IntExpr>(*pool.getArgs()[1].value).getValue(), 2);
  auto &relu = cast<CallExpr>(*pool.getArgs()[0].value);
  EXPECT_EQ(relu.getCallee(), "relu");
  EXPECT_TRUE(relu.isPiped());
  ASSERT_EQ(relu.getArgs().size(), 1u);
  auto &conv = cast<CallExpr>(*relu.getArgs()[0].value);
  EXPECT_EQ(conv.getCallee(), "conv2d");
  EXPECT_FALSE(conv.isPiped());
  ASSERT_EQ(conv.getArgs().size(), 4u);
  EXPECT_EQ(conv.getArgs()[0].keyword, "");
  EXPECT_EQ(conv.getArgs()[1].keyword, "out");
  EXPECT_EQ(conv.getArgs()[3].keyword, "padding");

  auto &output = cast<OutputStmt>(*def.getBody()[4]);
  EXPECT_EQ(output.getName(), "logits");
  auto &train = cast<TrainStmt>(*def.getBody()[5]);
  ASSERT_EQ(train.getSettings().size(), 5u);
  EXPECT_EQ(train.getSettings()[0].key, "loss");
  EXPECT_EQ(cast<IdentExpr>(*train.getSettings()[0].value).getName(),
            "cross_entropy");
  EXPECT_EQ(cast<FloatExpr>(*train.getSettings()[2].value).getValue(), 0.001);
}

TEST(ParserTest, LeNetDump) {
  auto result = parse(kLeNet);
  std::string dump = result->dump();
  EXPECT_EQ(dump, R"(Model 'lenet' @2:7
  Param 'classes' @2:13
    Int 10 @2:23
  Input 'image' @3:9 f32 @3:16
    Ident 'N' @3:20
    Int 1 @3:23
    Int 28 @3:26
    Int 28 @3:30
  Assign 'x' @4:3
    Call 'maxpool2d' piped @4:60
      Call 'relu' piped @4:52
        Call 'conv2d' @4:7
          Ident 'image' @4:14
          Kwarg 'out' @4:21
            Int 6 @4:25
          Kwarg 'kernel' @4:28
            Int 5 @4:35
          Kwarg 'padding' @4:38
            Int 2 @4:46
      Int 2 @4:70
  Assign 'x' @5:3
    Call 'maxpool2d' piped @5:46
      Call 'relu' piped @5:38
        Call 'conv2d' @5:7
          Ident 'x' @5:14
          Kwarg 'out' @5:17
            Int 16 @5:21
          Kwarg 'kernel' @5:25
            Int 5 @5:32
      Int 2 @5:56
  Assign 'x' @6:3
    Call 'relu' piped @6:58
      Call 'linear' piped @6:44
        Call 'relu' piped @6:36
          Call 'linear' piped @6:21
            Call 'flatten' @6:7
              Ident 'x' @6:15
            Int 120 @6:28
        Int 84 @6:51
  Output 'logits' @7:10
    Call 'linear' @7:19
      Ident 'x' @7:26
      Ident 'classes' @7:29
  Train @9:3
    Setting 'loss' @9:11
      Ident 'cross_entropy' @9:18
    Setting 'optimizer' @9:33
      Ident 'adam' @9:45
    Setting 'lr' @9:51
      Float 0.001 @9:56
    Setting 'batch' @9:63
      Int 64 @9:71
    Setting 'epochs' @9:75
      Int 5 @9:84
)");
}

TEST(ParserTest, BlocksRepeatsAndAs) {
  auto result = parse(kResNetPart);
  ASSERT_TRUE(result->module) << result->diags;
  EXPECT_EQ(result->dump(), R"(Block 'basic' @1:7
  Param 'channels' @1:13
  Param 'stride' @1:23
    Int 1 @1:32
  Input 'x' @2:9
  Assign 'y' @3:3
    Call 'batchnorm2d' piped @3:62
      Call 'conv2d' @3:7 as 'c1' @3:56
        Ident 'x' @3:14
        Ident 'channels' @3:17
        Int 3 @3:27
        Kwarg 'padding' @3:30
          Int 1 @3:38
        Kwarg 'bias' @3:41
          Bool false @3:46
  Output @4:3
    Call 'relu' piped @4:23
      Call 'add' @4:10
        Ident 'x' @4:14
        Ident 'y' @4:17
Model 'net' @6:7
  Param 'depth' @6:11
    Int 2 @6:19
  Param 'width' @6:22
    Int 16 @6:30
  Input 'image' @7:9 f32 @7:16
    Ident 'N' @7:20
    Int 3 @7:23
    Int 32 @7:26
    Int 32 @7:30
  Assign 'x' @7:35
    Ident 'image' @7:39
  Repeat @8:3
    Ident 'depth' @8:10
    Assign 'x' @8:18
      Call 'basic' @8:22
        Ident 'x' @8:28
        Ident 'width' @8:31
  Repeat 'i' @9:10
    Binary '-' @9:21
      Ident 'depth' @9:15
      Int 1 @9:23
    Assign 'x' @9:27
      Call 'basic' @9:31 as 'b' @9:54
        Ident 'x' @9:37
        Binary '*' @9:42
          Int 2 @9:40
          Ident 'width' @9:44
  Output @10:3
    Call 'linear' piped @10:31 as 'head' @10:45
      Call 'global_avgpool' @10:10
        Ident 'x' @10:25
      Int 10 @10:38
)");
  const Definition &block = *result->module->definitions[0];
  EXPECT_FALSE(block.isModel());
  EXPECT_EQ(block.getParams()[0].defaultValue, nullptr);
  auto &input = cast<InputStmt>(*block.getBody()[0]);
  EXPECT_EQ(input.getType(), nullptr);
  auto &output = cast<OutputStmt>(*block.getBody()[2]);
  EXPECT_EQ(output.getName(), "");
  const Definition &model = *result->module->definitions[1];
  auto &repeat = cast<RepeatStmt>(*model.getBody()[3]);
  EXPECT_EQ(repeat.getIndexVar(), "i");
  EXPECT_EQ(repeat.getBody().size(), 1u);
  auto &call =
      cast<CallExpr>(cast<AssignStmt>(*repeat.getBody()[0]).getValue());
  EXPECT_EQ(call.getAsName(), "b");
}

TEST(ParserTest, Pipelines) {
  // `a |> f` is f(a); `a |> f(b, k=c)` is f(a, b, k=c).
  EXPECT_EQ(exprDump("a |> f"), "Call 'f' piped @2:12\n"
                                "  Ident 'a' @2:7\n");
  EXPECT_EQ(exprDump("a |> f(b, k=c)"), "Call 'f' piped @2:12\n"
                                        "  Ident 'a' @2:7\n"
                                        "  Ident 'b' @2:14\n"
                                        "  Kwarg 'k' @2:17\n"
                                        "    Ident 'c' @2:19\n");
  EXPECT_EQ(exprDump("a |> f()"), "Call 'f' piped @2:12\n"
                                  "  Ident 'a' @2:7\n");
  // The pipeline binds loosest: (a + b) |> f.
  EXPECT_EQ(exprDump("a + b |> f"), "Call 'f' piped @2:16\n"
                                    "  Binary '+' @2:9\n"
                                    "    Ident 'a' @2:7\n"
                                    "    Ident 'b' @2:11\n");
  // `as` attaches to the call it follows.
  EXPECT_EQ(exprDump("x |> f(3) as c1 |> g as c2"),
            "Call 'g' piped @2:26 as 'c2' @2:31\n"
            "  Call 'f' piped @2:12 as 'c1' @2:20\n"
            "    Ident 'x' @2:7\n"
            "    Int 3 @2:14\n");
  EXPECT_EQ(exprDump("f(x) as c1 |> g"), "Call 'g' piped @2:21\n"
                                         "  Call 'f' @2:7 as 'c1' @2:15\n"
                                         "    Ident 'x' @2:9\n");
}

TEST(ParserTest, Operators) {
  EXPECT_EQ(exprDump("1 + 2 * 3"), "Binary '+' @2:9\n"
                                   "  Int 1 @2:7\n"
                                   "  Binary '*' @2:13\n"
                                   "    Int 2 @2:11\n"
                                   "    Int 3 @2:15\n");
  // Left associative.
  EXPECT_EQ(exprDump("a - b - c"), "Binary '-' @2:13\n"
                                   "  Binary '-' @2:9\n"
                                   "    Ident 'a' @2:7\n"
                                   "    Ident 'b' @2:11\n"
                                   "  Ident 'c' @2:15\n");
  EXPECT_EQ(exprDump("(a - b) % -c / 2"), "Binary '/' @2:20\n"
                                          "  Binary '%' @2:15\n"
                                          "    Binary '-' @2:10\n"
                                          "      Ident 'a' @2:8\n"
                                          "      Ident 'b' @2:12\n"
                                          "    Unary '-' @2:17\n"
                                          "      Ident 'c' @2:18\n"
                                          "  Int 2 @2:22\n");
  EXPECT_EQ(exprDump("--1"), "Unary '-' @2:7\n"
                             "  Unary '-' @2:8\n"
                             "    Int 1 @2:9\n");
}

TEST(ParserTest, Literals) {
  EXPECT_EQ(exprDump("[3, 5]"), "List @2:7\n"
                                "  Int 3 @2:8\n"
                                "  Int 5 @2:11\n");
  EXPECT_EQ(exprDump("[]"), "List @2:7\n");
  EXPECT_EQ(exprDump("\"sa\\\"m\\\\e\""), "String \"sa\\\"m\\\\e\" @2:7\n");
  EXPECT_EQ(exprDump("\"a\tb\""), "String \"a\\tb\" @2:7\n");
  EXPECT_EQ(exprDump("true"), "Bool true @2:7\n");
  EXPECT_EQ(exprDump("false"), "Bool false @2:7\n");
  EXPECT_EQ(exprDump("1_000"), "Int 1000 @2:7\n");
  // Floats print with the fewest digits that round-trip, always as floats.
  EXPECT_EQ(exprDump("0.1"), "Float 0.1 @2:7\n");
  EXPECT_EQ(exprDump("2.5E+2"), "Float 250.0 @2:7\n");
  EXPECT_EQ(exprDump("1e-5"), "Float 1e-05 @2:7\n");
  EXPECT_EQ(exprDump("0.30000000000000004"),
            "Float 0.30000000000000004 @2:7\n");
  EXPECT_EQ(exprDump("1e300"), "Float 1e+300 @2:7\n");
}

TEST(ParserTest, KeywordArgumentNamedIn) {
  // `in` is a keyword but also conv2d's `in=` argument.
  EXPECT_EQ(exprDump("linear(x, 10, in=20)"), "Call 'linear' @2:7\n"
                                              "  Ident 'x' @2:14\n"
                                              "  Int 10 @2:17\n"
                                              "  Kwarg 'in' @2:21\n"
                                              "    Int 20 @2:24\n");
}

TEST(ParserTest, Locations) {
  auto result = parse("model m(k = 3) {\n  input x\n  output y = -x\n}\n");
  ASSERT_TRUE(result->module);
  const llvm::SourceMgr &sm = result->srcMgr;
  auto lineCol = [&](llvm::SMLoc loc) { return sm.getLineAndColumn(loc); };
  const Definition &def = *result->module->definitions[0];
  EXPECT_EQ(lineCol(def.getLoc()), std::make_pair(1u, 7u));
  EXPECT_EQ(lineCol(def.getParams()[0].loc), std::make_pair(1u, 9u));
  auto &input = cast<InputStmt>(*def.getBody()[0]);
  EXPECT_EQ(lineCol(input.getLoc()), std::make_pair(2u, 3u));
  EXPECT_EQ(lineCol(input.getNameLoc()), std::make_pair(2u, 9u));
  auto &output = cast<OutputStmt>(*def.getBody()[1]);
  EXPECT_EQ(lineCol(output.getLoc()), std::make_pair(3u, 3u));
  EXPECT_EQ(lineCol(output.getNameLoc()), std::make_pair(3u, 10u));
  EXPECT_EQ(lineCol(output.getValue().getLoc()), std::make_pair(3u, 14u));
}

//===----------------------------------------------------------------------===//
// Diagnostics: one test per kind, exact text.
//===----------------------------------------------------------------------===//

TEST(ParserTest, FullDiagnosticText) {
  auto result = parse("model m {\n  x = conv2d(image,, out=3)\n}\n");
  EXPECT_FALSE(result->module);
  EXPECT_EQ(result->diags,
            "test.nn:2:20: error: expected an expression, found ','\n"
            "  x = conv2d(image,, out=3)\n"
            "                   ^\n");
}

TEST(ParserTest, TopLevelErrors) {
  expectError("x = 1",
              "test.nn:1:1: error: expected 'model' or 'block', found 'x'");
  expectError("model m {} }",
              "test.nn:1:12: error: expected 'model' or 'block', "
              "found '}'");
  expectError("model { }",
              "test.nn:1:7: error: expected a model name after 'model', "
              "found '{'");
  expectError("block 3 { }", "test.nn:1:7: error: expected a block name after "
                             "'block', found '3'");
  expectError("model m x",
              "test.nn:1:9: error: expected '(' or '{' after model "
              "name 'm', found 'x'");
  expectError("model m",
              "test.nn:1:8: error: expected '(' or '{' after model name "
              "'m', found end of file");
  expectError("model m(a) x",
              "test.nn:1:12: error: expected '{' to begin the body "
              "of model 'm', found 'x'");
}

TEST(ParserTest, ParameterErrors) {
  expectError("model m(3) {}", "test.nn:1:9: error: expected a parameter name, "
                               "found '3'");
  expectError("model m(a b) {}",
              "test.nn:1:11: error: expected ')' to close the "
              "parameter list, found 'b'");
  expectError("model m(a,) {}",
              "test.nn:1:11: error: expected a parameter name, "
              "found ')'");
  expectError("model m(a = ) {}",
              "test.nn:1:13: error: expected an expression, "
              "found ')'");
}

TEST(ParserTest, DuplicateParameter) {
  auto result = parse("block b(x, y = 1,\n        x) {}");
  EXPECT_FALSE(result->module);
  EXPECT_EQ(result->numErrors, 1u);
  EXPECT_EQ(result->diags, "test.nn:2:9: error: duplicate parameter 'x'\n"
                           "        x) {}\n"
                           "        ^\n"
                           "test.nn:1:9: note: 'x' was first declared here\n"
                           "block b(x, y = 1,\n"
                           "        ^\n");
}

TEST(ParserTest, StatementErrors) {
  expectError("model m { 3 }", "test.nn:1:11: error: expected a statement (input, output, repeat, "
                               "for, if, train or 'name = expression'), found '3'");
  expectError("model m { as }", "test.nn:1:11: error: expected a statement (input, output, repeat, "
                                "for, if, train or 'name = expression'), found 'as'");
  expectError("model m { relu(x) }",
              "test.nn:1:15: error: expected '=' after 'relu' (a statement is input, "
              "output, repeat, for, if, train or 'name = expression'), found '('");
  expectError("model m { x = 1 2 }",
              "test.nn:1:17: error: expected a statement (input, output, repeat, "
              "for, if, train or 'name = expression'), found '2'");
  expectError("model m { x = }", "test.nn:1:15: error: expected an expression, "
                                 "found '}'");
  expectError("model m { output }",
              "test.nn:1:18: error: expected an expression, "
              "found '}'");
  expectError("model m { output y = }", "test.nn:1:22: error: expected an "
                                        "expression, found '}'");
}

TEST(ParserTest, InputErrors) {
  expectError("model m { input 3 }",
              "test.nn:1:17: error: expected an input name "
              "after 'input', found '3'");
  expectError(
      "model m { input x: [1] }",
      "test.nn:1:20: error: expected a dtype after ':' (f32, f16, bf16, i64 "
      "or i32), found '['");
  expectError("model m { input x: f32 }",
              "test.nn:1:24: error: expected '[' to "
              "begin the shape of input 'x', found '}'");
  expectError("model m { input x: f32[N 1] }",
              "test.nn:1:26: error: expected ']' "
              "to close the shape, found '1'");
}

TEST(ParserTest, RepeatAndTrainErrors) {
  expectError("model m { repeat 3 x = 1 }",
              "test.nn:1:20: error: expected '{' to "
              "begin the repeat body, found 'x'");
  expectError("model m { repeat { } }", "test.nn:1:18: error: expected an "
                                        "expression, found '{'");
  expectError("model m { train lr = 1 }",
              "test.nn:1:17: error: expected '{' after "
              "'train', found 'lr'");
  expectError("model m { train { lr 1 } }",
              "test.nn:1:22: error: expected '=' "
              "after train setting 'lr', found '1'");
  expectError("model m { train { 3 } }",
              "test.nn:1:19: error: expected a train "
              "setting 'name = value' or '}', found '3'");
  expectError(
      "model m { train { lr = 1;; } }",
      "test.nn:1:26: error: expected a train setting 'name = value' or '}', "
      "found ';'");
}

TEST(ParserTest, ExpressionErrors) {
  expectError("model m { x = f(a b) }",
              "test.nn:1:19: error: expected ')' to close "
              "the argument list, found 'b'");
  expectError("model m { x = f(a,) }", "test.nn:1:19: error: expected an "
                                       "expression, found ')'");
  expectError("model m { x = (1 + 2 }",
              "test.nn:1:22: error: expected ')' to close "
              "the parenthesized expression, found '}'");
  expectError("model m { x = [1, 2 }",
              "test.nn:1:21: error: expected ']' to close "
              "the list, found '}'");
  expectError("model m { x = a |> 3 }",
              "test.nn:1:20: error: expected a layer or "
              "block name after '|>', found '3'");
  expectError("model m { x = a |> (f) }",
              "test.nn:1:20: error: expected a layer or "
              "block name after '|>', found '('");
  expectError("model m { x = f(a) as 3 }",
              "test.nn:1:23: error: expected a layer "
              "name after 'as', found '3'");
  expectError("model m { x = 1 + * 2 }", "test.nn:1:19: error: expected an "
                                         "expression, found '*'");
  expectError("model m { x = \"s\" \"t\" }",
              "test.nn:1:19: error: expected a statement (input, output, repeat, "
              "for, if, train or 'name = expression'), found string \"t\"");
}

TEST(ParserTest, LongTokensAreTruncatedInMessages) {
  std::string name(100, 'q');
  expectError("model m { 3 " + name + " }", "test.nn:1:11: error: expected a statement "
                                            "(input, output, repeat, for, if, train or 'name = "
                                            "expression'), found '3'");
  expectError("model m { x = 1 " + name + "(",
              "test.nn:1:117: error: expected '=' after '" + std::string(32, 'q') +
                  "...' (a statement is input, output, repeat, for, if, train or 'name = "
                  "expression'), found '('");
  expectError(
      "model m { x = f(a " + name + ") }",
      "test.nn:1:19: error: expected ')' to close the argument list, found '" +
          std::string(32, 'q') + "...'");
}

TEST(ParserTest, StrayAs) {
  const std::string msg =
      "error: 'as' must directly follow a layer or block call, "
      "as in 'conv2d(x, 8, 3) as c1'";
  expectError("model m { x = a as b }", "test.nn:1:17: " + msg);
  expectError("model m { x = (f(a)) as b }", "test.nn:1:22: " + msg);
  expectError("model m { x = f(a) as b as c }", "test.nn:1:25: " + msg);
  expectError("model m { x = a |> f as b as c }", "test.nn:1:27: " + msg);
}

TEST(ParserTest, ArgumentErrors) {
  expectError("model m { x = f(out=1, 2) }",
              "test.nn:1:24: error: positional "
              "argument follows keyword argument 'out'");
  // A piped input stays first and does not count as a positional after `k=`.
  EXPECT_TRUE(parse("model m { x = a |> f(k=1) }")->module);
  expectError("model m { x = a |> f(k=1, b) }",
              "test.nn:1:27: error: positional "
              "argument follows keyword argument "
              "'k'");
  auto result = parse("model m { x = f(out=1, out=2) }");
  EXPECT_FALSE(result->module);
  EXPECT_EQ(result->numErrors, 1u);
  EXPECT_EQ(result->diags,
            "test.nn:1:24: error: duplicate keyword argument 'out'\n"
            "model m { x = f(out=1, out=2) }\n"
            "                       ^\n"
            "test.nn:1:17: note: 'out' was first given here\n"
            "model m { x = f(out=1, out=2) }\n"
            "                ^\n");
}

TEST(ParserTest, UnexpectedEndOfFile) {
  expectError("model m {\n  x = f(a,\n",
              "test.nn:3:1: error: unexpected end of file: '(' at line 2 is "
              "not closed");
  expectError("model m {\n  x = 1\n", "test.nn:3:1: error: unexpected end of "
                                      "file: '{' at line 1 is not closed");
  expectError(
      "model m {\n  repeat 2 {\n    x = [1,",
      "test.nn:3:12: error: unexpected end of file: '[' at line 3 is not "
      "closed");
  expectError("model m(a,",
              "test.nn:1:11: error: unexpected end of file: '(' at "
              "line 1 is not closed");
  expectError("model m { train {",
              "test.nn:1:18: error: unexpected end of file: '{' "
              "at line 1 is not closed");
  expectError("model m { input x: f32[N",
              "test.nn:1:25: error: unexpected end of "
              "file: '[' at line 1 is not closed");
}

TEST(ParserTest, LexerErrorStopsTheParser) {
  auto result = parse("model m {\n  x = 3 $ 4\n}\n");
  EXPECT_FALSE(result->module);
  EXPECT_EQ(result->numErrors, 1u);
  EXPECT_EQ(result->error(), "test.nn:2:9: error: unexpected character '$'");
  // A lexical error found by one-token lookahead is reported alone.
  result = parse("model m { y $ }");
  EXPECT_FALSE(result->module);
  EXPECT_EQ(result->numErrors, 1u);
  EXPECT_EQ(result->error(), "test.nn:1:13: error: unexpected character '$'");
}

//===----------------------------------------------------------------------===//
// Limits and robustness
//===----------------------------------------------------------------------===//

std::string repeatStr(llvm::StringRef s, unsigned n) {
  std::string result;
  for (unsigned i = 0; i < n; ++i)
    result += s.str();
  return result;
}

TEST(ParserTest, NestingLimit) {
  const std::string tooDeep = "error: nesting is too deep (limit 256)";
  auto wrap = [](const std::string &expr) {
    return "model m { x = " + expr + " }";
  };
  // 256 levels are accepted.
  EXPECT_TRUE(
      parse(wrap(repeatStr("(", 256) + "1" + repeatStr(")", 256)))->module);
  EXPECT_TRUE(parse(wrap(repeatStr("[", 255) + repeatStr("]", 255)))->module);
  // 257 are not, whatever builds them, and huge depths fail cleanly.
  for (unsigned n : {257u, 100000u}) {
    expectError(wrap(repeatStr("(", n) + "1" + repeatStr(")", n)),
                "test.nn:1:271: " + tooDeep);
    expectError(wrap(repeatStr("[", n) + repeatStr("]", n)),
                "test.nn:1:271: " + tooDeep);
    expectError(wrap(repeatStr("-", n) + "1"), "test.nn:1:271: " + tooDeep);
    expectError(wrap(repeatStr("f(", n) + repeatStr(")", n)),
                "test.nn:1:528: " + tooDeep);
    expectError("model m { " + repeatStr("repeat 2 { ", n) + repeatStr("}", n) +
                    " }",
                "test.nn:1:2827: " + tooDeep);
  }
  // Long operator chains and pipelines build deep trees without recursion in
  // the parser; their height is limited too.
  EXPECT_TRUE(parse(wrap("1" + repeatStr(" + 1", 255)))->module);
  expectError(wrap("1" + repeatStr(" + 1", 300000)),
              "test.nn:1:1037: " + tooDeep);
  expectError(wrap("1" + repeatStr(" * 1", 300000)),
              "test.nn:1:1037: " + tooDeep);
  EXPECT_TRUE(parse(wrap("x" + repeatStr(" |> f", 255)))->module);
  expectError(wrap("x" + repeatStr(" |> f", 300000)),
              "test.nn:1:1295: " + tooDeep);
  // Height adds up across kinds of nesting.
  expectError(wrap(repeatStr("(1 + ", 200) + "1" + repeatStr(")", 200) +
                   repeatStr(" |> f", 60)),
              "test.nn:1:1495: " + tooDeep);
}

TEST(ParserTest, WideInputs) {
  // Wide (not deep) inputs are fine: a long list, many statements, a long name.
  std::string list = "[1" + repeatStr(", 1", 100000) + "]";
  auto result = parse("model m { x = " + list + " }");
  ASSERT_TRUE(result->module);
  auto &value = cast<AssignStmt>(*result->module->definitions[0]->getBody()[0]);
  EXPECT_EQ(cast<ListExpr>(value.getValue()).getElements().size(), 100001u);
  EXPECT_TRUE(
      parse("model m { " + repeatStr("x = 1; ", 100000) + " }")->module);
  std::string name(1 << 20, 'n');
  result = parse("model m { " + name + " = 1 }");
  ASSERT_TRUE(result->module);
  EXPECT_EQ(
      cast<AssignStmt>(*result->module->definitions[0]->getBody()[0]).getName(),
      name);
}

TEST(ParserTest, EveryPrefixFailsCleanly) {
  // Cutting a valid file anywhere either parses or reports exactly one error.
  std::string text = std::string(kLeNet) + kResNetPart;
  for (size_t len = 0; len <= text.size(); ++len) {
    auto result = parse(llvm::StringRef(text).take_front(len));
    if (result->module) {
      EXPECT_EQ(result->numErrors, 0u);
    } else {
      EXPECT_EQ(result->numErrors, 1u) << len;
      EXPECT_NE(result->diags.find("error: "), std::string::npos);
    }
  }
}

TEST(ParserTest, MutatedInputsFailCleanly) {
  // Random byte edits (including NUL, non-ASCII and punctuation) never crash
  // and never report more than one error.
  std::string base = std::string(kLeNet) + kResNetPart;
  static const char kAlphabet[] =
      "(){}[],:;=|>+-*/%#\"\\._aZ09 \n\0\x80\xC3\xFF"
      "as in";
  const std::string alphabet(kAlphabet, sizeof(kAlphabet) - 1);
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string text = base;
    int edits = 1 + rng() % 4;
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % text.size();
      char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
      case 0:
        text[pos] = c;
        break;
      case 1:
        text.insert(text.begin() + pos, c);
        break;
      default:
        text.erase(pos, 1 + rng() % 8);
        break;
      }
    }
    auto result = parse(text);
    EXPECT_EQ(result->numErrors, result->module ? 0u : 1u) << text;
    if (result->module)
      (void)result->dump();
  }
}

} // namespace
