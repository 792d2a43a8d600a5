//===- DiagnosticsTest.cpp - Printing of located diagnostics --------------===//

#include "frontend/Diagnostics.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/Support/MemoryBuffer.h"

#include "gtest/gtest.h"

using namespace nnc;

namespace {

/// A SourceMgr holding `text` as "t.nn", with a DiagEngine printing to `out`.
struct Printed {
  llvm::SourceMgr srcMgr;
  std::string out;
  llvm::raw_string_ostream os{out};
  DiagEngine diag{srcMgr, os};

  explicit Printed(llvm::StringRef text) {
    srcMgr.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, "t.nn"),
                              llvm::SMLoc());
  }
  llvm::SMLoc at(size_t offset) const {
    return llvm::SMLoc::getFromPointer(
        srcMgr.getMemoryBuffer(srcMgr.getMainFileID())->getBufferStart() + offset);
  }
  /// The printed lines.
  std::vector<std::string> lines() const {
    llvm::SmallVector<llvm::StringRef> parts;
    llvm::StringRef(out).split(parts, '\n', -1, /*KeepEmpty=*/false);
    return {parts.begin(), parts.end()};
  }
};

TEST(DiagnosticsTest, ShortLineIsEchoedWhole) {
  Printed p("model m { bad }\n");
  p.diag.error(p.at(10), "oops");
  EXPECT_EQ(p.out, "t.nn:1:11: error: oops\nmodel m { bad }\n          ^\n");
}

TEST(DiagnosticsTest, LongLineIsWindowedAroundTheCaret) {
  std::string line = std::string(1000, 'a') + "X" + std::string(1000, 'b');
  Printed p(line + "\n");
  p.diag.error(p.at(1000), "here");
  std::vector<std::string> lines = p.lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "t.nn:1:1001: error: here");
  EXPECT_LE(lines[1].size(), kMaxEchoedLineWidth + 6);
  EXPECT_EQ(lines[1].substr(0, 3), "...");
  EXPECT_EQ(lines[1].substr(lines[1].size() - 3), "...");
  size_t caret = lines[2].find('^');
  ASSERT_NE(caret, std::string::npos);
  EXPECT_EQ(lines[1][caret], 'X');
}

TEST(DiagnosticsTest, WindowKeepsUtf8AndTabsAligned) {
  // Two-byte characters before the caret take one column each; a tab expands
  // to the next multiple of 8 in both the line and the caret line.
  std::string line;
  for (int i = 0; i < 200; ++i)
    line += "\xC3\xA9"; // é
  line += "\tX";
  line += std::string(500, 'c');
  Printed p(line + "\n");
  p.diag.error(p.at(401), "tab");
  std::vector<std::string> lines = p.lines();
  ASSERT_EQ(lines.size(), 3u);
  const std::string &shown = lines[1];
  size_t x = shown.find('X');
  ASSERT_NE(x, std::string::npos);
  // Columns before X: count UTF-8 lead bytes.
  size_t columns = 0;
  for (size_t i = 0; i < x; ++i)
    columns += (uint8_t(shown[i]) & 0xC0) != 0x80;
  EXPECT_EQ(lines[2].find('^'), columns);
  EXPECT_EQ(columns % 8, 0u) << "the tab before X ends at a tab stop";
  EXPECT_NE((uint8_t(shown[3]) & 0xC0), 0x80u) << "the window starts on a character";
}

TEST(DiagnosticsTest, MlirDiagnosticsAreWindowedToo) {
  std::string line = std::string(5000, 'z');
  Printed p(line + "\n");
  mlir::MLIRContext context;
  mlir::SourceMgrDiagnosticHandler handler(p.srcMgr, &context, p.os);
  mlir::emitError(mlir::FileLineColLoc::get(&context, "t.nn", 1, 2500), "from a pass");
  std::vector<std::string> lines = p.lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "t.nn:1:2500: error: from a pass");
  EXPECT_LE(lines[1].size(), kMaxEchoedLineWidth + 6);
}

TEST(DiagnosticsTest, CommandLineErrors) {
  Printed p("");
  p.diag.commandLineError("-D x=1: nope");
  EXPECT_EQ(p.out, "<command line>: error: -D x=1: nope\n");
  EXPECT_EQ(p.diag.getNumErrors(), 1u);
}

TEST(DiagnosticsTest, ContextsAreNotedInnermostFirst) {
  Printed p("a\nb\nc\n");
  p.diag.pushContext(p.at(0), "outer");
  p.diag.pushContext(p.at(2), "inner");
  p.diag.error(p.at(4), "boom");
  p.diag.popContext();
  p.diag.popContext();
  p.diag.error(p.at(4), "alone");
  EXPECT_EQ(p.out, "t.nn:3:1: error: boom\nc\n^\n"
                   "t.nn:2:1: note: inner\nb\n^\n"
                   "t.nn:1:1: note: outer\na\n^\n"
                   "t.nn:3:1: error: alone\nc\n^\n");
}

} // namespace
