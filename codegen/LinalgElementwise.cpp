//===- LinalgElementwise.cpp - Activations and add as linalg --------------===//
//
// The elementwise forward ops (activations, add, inference dropout) as
// linalg.generic on tensors, one parallel iteration over every element.
//
//===----------------------------------------------------------------------===//

#include "codegen/LinalgBuilder.h"

#include "dialect/NNOps.h"

#include "mlir/Dialect/Math/IR/Math.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::nn;
using namespace nnc::codegen;

FailureOr<bool> nnc::codegen::lowerElementwiseToLinalg(LinalgBuilder &lb, Operation *op) {
  auto unary = [&](LinalgBuilder::BodyFn body) {
    return replaceOp(op, lb.elementwise(op->getOperand(0), resultTensorType(op), body));
  };
  using B = OpBuilder;
  return llvm::TypeSwitch<Operation *, FailureOr<bool>>(op)
      .Case<ReluOp>([&](auto) {
        return unary([](B &nb, Location l, ValueRange a) -> Value {
          Value zero = arith::ConstantFloatOp::create(nb, l, cast<FloatType>(a[0].getType()),
                                                      APFloat(0.0f));
          return arith::MaximumFOp::create(nb, l, a[0], zero);
        });
      })
      .Case<SigmoidOp>([&](auto) {
        return unary([](B &nb, Location l, ValueRange a) -> Value {
          auto ft = cast<FloatType>(a[0].getType());
          Value one = arith::ConstantFloatOp::create(nb, l, ft, APFloat(1.0f));
          Value e = math::ExpOp::create(nb, l, arith::NegFOp::create(nb, l, a[0]));
          return arith::DivFOp::create(nb, l, one, arith::AddFOp::create(nb, l, one, e));
        });
      })
      .Case<TanhOp>([&](auto) {
        return unary([](B &nb, Location l, ValueRange a) -> Value {
          return math::TanhOp::create(nb, l, a[0]);
        });
      })
      .Case<GeluOp>([&](auto) {
        return unary([](B &nb, Location l, ValueRange a) -> Value {
          auto ft = cast<FloatType>(a[0].getType());
          auto c = [&](float v) { return arith::ConstantFloatOp::create(nb, l, ft, APFloat(v)); };
          Value e = math::ErfOp::create(nb, l,
                                        arith::MulFOp::create(nb, l, a[0], c(0.70710678118654752f)));
          Value s = arith::AddFOp::create(nb, l, c(1.0f), e);
          return arith::MulFOp::create(nb, l, arith::MulFOp::create(nb, l, a[0], c(0.5f)), s);
        });
      })
      .Case<LeakyReluOp>([&](LeakyReluOp lr) {
        double slope = lr.getSlope().convertToDouble();
        return unary([slope](B &nb, Location l, ValueRange a) -> Value {
          Value zero = floatConstant(nb, l, a[0].getType(), 0.0);
          Value s = floatConstant(nb, l, a[0].getType(), slope);
          Value pos = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT, a[0], zero);
          return arith::SelectOp::create(nb, l, pos, a[0], arith::MulFOp::create(nb, l, a[0], s));
        });
      })
      .Case<AddOp>([&](AddOp a) {
        return replaceOp(op, lb.elementwise({a.getLhs(), a.getRhs()}, resultTensorType(op),
                                      [](B &nb, Location l, ValueRange v) -> Value {
                                        return arith::AddFOp::create(nb, l, v[0], v[1]);
                                      }));
      })
      .Case<DropoutOp>([&](DropoutOp d) {
        // Inference: the identity.
        return replaceOp(op, d.getInput());
      })
      .Default([](Operation *) { return false; });
}
