//===- QuantizeModel.cpp - quantization table and quantized weights -------===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR). See QuantizeModel.h.
//
//===----------------------------------------------------------------------===//

#include "runtime/QuantizeModel.h"

#include "runtime/Checkpoint.h"
#include "runtime/Json.h"

#include <cmath>
#include <cstring>
#include <set>

namespace nnc::rt {

const QuantizedLayer *QuantizationTable::find(std::string_view name) const {
  for (const QuantizedLayer &l : layers)
    if (l.layer == name)
      return &l;
  return nullptr;
}

//===----------------------------------------------------------------------===//
// The table as JSON
//===----------------------------------------------------------------------===//

std::string quantizationTableToJson(const QuantizationTable &table) {
  Json root = Json::object();
  root["version"] = table.version;
  root["method"] = table.method;
  root["f32_layers"] = Json::array();
  for (const std::string &name : table.f32Layers)
    root["f32_layers"].push_back(name);
  root["layers"] = Json::array();
  for (const QuantizedLayer &l : table.layers) {
    Json entry = Json::object();
    entry["layer"] = l.layer;
    entry["batchnorm"] = l.batchnorm ? Json(*l.batchnorm) : Json(nullptr);
    Json input = Json::object();
    // float -> double is exact, and nlohmann writes doubles with 17 digits.
    input["scale"] = static_cast<double>(l.input.scale);
    input["zero_point"] = l.input.zeroPoint;
    input["qmin"] = l.input.qmin;
    input["qmax"] = l.input.qmax;
    entry["input"] = std::move(input);
    root["layers"].push_back(std::move(entry));
  }
  return toJsonText(root);
}

namespace {

/// Validation of one parse: the first error, prefixed with the source.
class TableReader {
public:
  explicit TableReader(const std::string &source) : source(source) {}

  Status fail(const std::string &where, const std::string &what) {
    return Status::error(source + ": " + where + ": " + what);
  }

  /// Checks that `obj` (an object) has only the keys in `allowed`.
  Status onlyKeys(const Json &obj, const std::string &where,
                  std::initializer_list<const char *> allowed) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      bool known = false;
      for (const char *k : allowed)
        known = known || it.key() == k;
      if (!known)
        return fail(where, "unknown key \"" + it.key() + "\"");
    }
    return Status::success();
  }

  /// An integer member in [lo, hi].
  Status integer(const Json &obj, const char *key, const std::string &where, int64_t lo, int64_t hi,
                 int32_t &out) {
    const Json *v = jsonMember(&obj, key);
    const std::string at = where + "." + key;
    if (!v)
      return fail(where, std::string("missing \"") + key + "\"");
    if (!v->is_number_integer())
      return fail(at, "must be an integer");
    const bool inRange = v->is_number_unsigned()
                             ? v->get<uint64_t>() <= static_cast<uint64_t>(hi)
                             : v->get<int64_t>() >= lo && v->get<int64_t>() <= hi;
    if (!inRange)
      return fail(at, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    out = static_cast<int32_t>(v->get<int64_t>());
    return Status::success();
  }

  Result<QuantizedLayer> layer(const Json &v, const std::string &where) {
    if (!v.is_object())
      return fail(where, "must be an object");
    if (Status s = onlyKeys(v, where, {"layer", "batchnorm", "input"}); !s.ok())
      return s;
    QuantizedLayer l;
    const std::string *name = jsonString(jsonMember(&v, "layer"));
    if (!name || name->empty())
      return fail(where, "\"layer\" must be a non-empty string");
    l.layer = *name;
    const Json *bn = jsonMember(&v, "batchnorm");
    if (bn && !bn->is_null()) {
      const std::string *bnName = jsonString(bn);
      if (!bnName || bnName->empty())
        return fail(where + ".batchnorm", "must be a non-empty string or null");
      l.batchnorm = *bnName;
    }
    const Json *input = jsonMember(&v, "input");
    const std::string in = where + ".input";
    if (!input || !input->is_object())
      return fail(where, "\"input\" must be an object");
    if (Status s = onlyKeys(*input, in, {"scale", "zero_point", "qmin", "qmax"}); !s.ok())
      return s;
    const Json *scale = jsonMember(input, "scale");
    if (!scale || !scale->is_number())
      return fail(in + ".scale", "must be a positive finite number");
    const double sc = scale->get<double>();
    const float scf = static_cast<float>(sc);
    if (!(sc > 0.0) || !std::isfinite(scf) || scf == 0.0f)
      return fail(in + ".scale", "must be a positive finite number");
    l.input.scale = scf;
    if (Status s = integer(*input, "qmin", in, -128, 255, l.input.qmin); !s.ok())
      return s;
    if (Status s = integer(*input, "qmax", in, -128, 255, l.input.qmax); !s.ok())
      return s;
    if (Status s = integer(*input, "zero_point", in, -128, 255, l.input.zeroPoint); !s.ok())
      return s;
    if (l.input.qmin >= l.input.qmax)
      return fail(in, "qmin must be below qmax");
    if (l.input.qmin < 0 && l.input.qmax > 127)
      return fail(in, "[qmin, qmax] must lie in [-128, 127] (s8) or [0, 255] (u8)");
    if (l.input.zeroPoint < l.input.qmin || l.input.zeroPoint > l.input.qmax)
      return fail(in + ".zero_point", "must be in [qmin, qmax]");
    return l;
  }

private:
  const std::string &source;
};

} // namespace

Result<QuantizationTable> parseQuantizationTable(std::string_view text, const std::string &source) {
  std::string error;
  std::optional<Json> root = parseJson(text, error);
  if (!root)
    return Status::error(source + ": " + error);
  TableReader r(source);
  if (!root->is_object())
    return r.fail("table", "must be a JSON object");
  if (Status s = r.onlyKeys(*root, "table", {"version", "method", "f32_layers", "layers"}); !s.ok())
    return s;
  QuantizationTable t;
  std::optional<uint64_t> version = jsonUInt64(jsonMember(root, "version"));
  if (!version || *version != 1)
    return r.fail("version", "must be 1");
  const std::string *method = jsonString(jsonMember(root, "method"));
  if (!method)
    return r.fail("method", "must be a string");
  t.method = *method;
  std::set<std::string> f32;
  if (const Json *f = jsonMember(root, "f32_layers")) {
    if (!f->is_array())
      return r.fail("f32_layers", "must be an array of strings");
    for (size_t i = 0; i < f->size(); ++i) {
      const std::string *name = jsonString(&(*f)[i]);
      if (!name || name->empty())
        return r.fail("f32_layers[" + std::to_string(i) + "]", "must be a non-empty string");
      t.f32Layers.push_back(*name);
      f32.insert(*name);
    }
  }
  const Json *layers = jsonMember(root, "layers");
  if (!layers || !layers->is_array())
    return r.fail("layers", "must be an array");
  std::set<std::string> names, bns;
  for (size_t i = 0; i < layers->size(); ++i) {
    const std::string where = "layers[" + std::to_string(i) + "]";
    Result<QuantizedLayer> l = r.layer((*layers)[i], where);
    if (!l)
      return l.status();
    if (!names.insert(l->layer).second)
      return r.fail(where, "layer \"" + l->layer + "\" is listed twice");
    if (f32.count(l->layer))
      return r.fail(where, "layer \"" + l->layer + "\" is also in f32_layers");
    if (l->batchnorm && !bns.insert(*l->batchnorm).second)
      return r.fail(where, "batchnorm \"" + *l->batchnorm + "\" is folded into two layers");
    t.layers.push_back(std::move(*l));
  }
  return t;
}

//===----------------------------------------------------------------------===//
// Tensors
//===----------------------------------------------------------------------===//

size_t HostTensor::numel() const {
  size_t n = 1;
  for (uint64_t d : shape)
    n *= static_cast<size_t>(d);
  return n;
}

HostTensor HostTensor::fromF32(std::vector<uint64_t> shape, const std::vector<float> &values) {
  HostTensor t;
  t.dtype = TensorDType::F32;
  t.shape = std::move(shape);
  t.bytes.resize(values.size() * sizeof(float));
  if (!values.empty())
    std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

void foldBatchNorm(const float *w, size_t channels, size_t perChannel, const float *b,
                   const float *gamma, const float *beta, const float *mean, const float *var,
                   double eps, std::vector<float> &wOut, std::vector<float> &bOut) {
  wOut.resize(channels * perChannel);
  bOut.resize(channels);
  for (size_t o = 0; o < channels; ++o) {
    const double s = static_cast<double>(gamma[o]) / std::sqrt(static_cast<double>(var[o]) + eps);
    for (size_t i = 0; i < perChannel; ++i)
      wOut[o * perChannel + i] = static_cast<float>(w[o * perChannel + i] * s);
    const double bias = b ? b[o] : 0.0;
    bOut[o] = static_cast<float>((bias - mean[o]) * s + beta[o]);
  }
}

namespace {

/// The F32 tensor `name` of shape [channels] (any shape if channels is 0),
/// or an error naming `what` needs it.
Result<const HostTensor *> f32Tensor(const TensorMap &m, const std::string &name,
                                     const std::string &what, uint64_t channels) {
  auto it = m.find(name);
  if (it == m.end())
    return Status::error(what + ": missing tensor '" + name + "'");
  const HostTensor &t = it->second;
  if (t.dtype != TensorDType::F32)
    return Status::error(what + ": tensor '" + name + "' is " + safetensorsDTypeName(t.dtype) +
                         ", expected F32");
  if (channels && (t.shape.size() != 1 || t.shape[0] != channels))
    return Status::error(what + ": tensor '" + name + "' has shape " + formatShape(t.shape) +
                         ", expected [" + std::to_string(channels) + "]");
  if (t.bytes.size() != t.numel() * sizeof(float))
    return Status::error(what + ": tensor '" + name + "' has " + std::to_string(t.bytes.size()) +
                         " bytes for " + std::to_string(t.numel()) + " F32 elements");
  return &t;
}

const char *const kBatchNormTensors[] = {"weight", "bias", "running_mean", "running_var",
                                         "num_batches_tracked"};

} // namespace

Result<TensorMap> buildQuantizedTensors(const TensorMap &f32, const QuantizationTable &table,
                                        const std::map<std::string, double> &batchnormEps) {
  TensorMap out = f32;
  for (const QuantizedLayer &l : table.layers) {
    const std::string what = "quantizing layer '" + l.layer + "'";
    Result<const HostTensor *> w = f32Tensor(f32, l.layer + ".weight", what, 0);
    if (!w)
      return w.status();
    const HostTensor &wt = **w;
    if (wt.shape.size() < 2 || wt.shape[0] == 0)
      return Status::error(what + ": weight has shape " + formatShape(wt.shape) +
                           ", expected [out, ...] of rank >= 2");
    const uint64_t channels = wt.shape[0];
    const size_t perChannel = wt.numel() / channels;
    const float *bias = nullptr;
    if (f32.count(l.layer + ".bias")) {
      Result<const HostTensor *> b = f32Tensor(f32, l.layer + ".bias", what, channels);
      if (!b)
        return b.status();
      bias = (*b)->f32();
    }
    std::vector<float> folded, foldedBias;
    const float *weights = wt.f32();
    if (l.batchnorm) {
      const std::string &bn = *l.batchnorm;
      const HostTensor *p[4];
      for (int i = 0; i < 4; ++i) {
        Result<const HostTensor *> t =
            f32Tensor(f32, bn + "." + kBatchNormTensors[i], what, channels);
        if (!t)
          return t.status();
        p[i] = *t;
      }
      auto eps = batchnormEps.find(bn);
      foldBatchNorm(weights, channels, perChannel, bias, p[0]->f32(), p[1]->f32(), p[2]->f32(),
                    p[3]->f32(), eps == batchnormEps.end() ? 1e-5 : eps->second, folded,
                    foldedBias);
      weights = folded.data();
      bias = foldedBias.data();
      for (const char *suffix : kBatchNormTensors)
        out.erase(bn + "." + suffix);
    }
    ChannelQuantizedWeights q = quantizeWeightsPerChannel(weights, channels, perChannel);
    HostTensor qt;
    qt.dtype = TensorDType::I8;
    qt.shape = wt.shape;
    qt.bytes.resize(q.values.size());
    std::memcpy(qt.bytes.data(), q.values.data(), q.values.size());
    out[l.layer + ".weight"] = std::move(qt);
    out[l.layer + ".weight_scale"] = HostTensor::fromF32({channels}, q.scales);
    if (bias)
      out[l.layer + ".bias"] =
          HostTensor::fromF32({channels}, std::vector<float>(bias, bias + channels));
  }
  return out;
}

//===----------------------------------------------------------------------===//
// The file
//===----------------------------------------------------------------------===//

Status writeQuantizedWeights(const std::string &path, const TensorMap &tensors,
                             const QuantizationTable &table) {
  std::vector<WriteTensor> list;
  list.reserve(tensors.size());
  for (const auto &[name, t] : tensors)
    list.push_back({name, t.dtype, t.shape, t.bytes.data()});
  return writeCheckpoint(path, list, {{kQuantizationMetadataKey, quantizationTableToJson(table)}});
}

Result<QuantizedWeights> readQuantizedWeights(const std::string &path) {
  Result<Checkpoint> ckpt = readCheckpoint(path);
  if (!ckpt)
    return ckpt.status();
  const std::string *json = nullptr;
  for (const auto &[key, value] : ckpt->metadata)
    if (key == kQuantizationMetadataKey)
      json = &value;
  if (!json)
    return Status::error(path + ": not a quantized weights file: no \"" +
                         std::string(kQuantizationMetadataKey) + "\" in __metadata__");
  Result<QuantizationTable> table =
      parseQuantizationTable(*json, path + ": __metadata__ \"nnc.quantization\"");
  if (!table)
    return table.status();
  QuantizedWeights q;
  q.table = std::move(*table);
  for (size_t i = 0; i < ckpt->tensors.size(); ++i) {
    HostTensor t;
    t.dtype = ckpt->tensors[i].dtype;
    t.shape = ckpt->tensors[i].shape;
    t.bytes.assign(ckpt->tensorData(i), ckpt->tensorData(i) + ckpt->sizes[i]);
    q.tensors[ckpt->tensors[i].name] = std::move(t);
  }
  for (const QuantizedLayer &l : q.table.layers) {
    const std::string what = path + ": int8 layer '" + l.layer + "'";
    auto w = q.tensors.find(l.layer + ".weight");
    if (w == q.tensors.end())
      return Status::error(what + ": missing tensor '" + l.layer + ".weight'");
    if (w->second.dtype != TensorDType::I8 || w->second.shape.size() < 2)
      return Status::error(what + ": tensor '" + l.layer + ".weight' is " +
                           safetensorsDTypeName(w->second.dtype) + " " +
                           formatShape(w->second.shape) + ", expected I8 of rank >= 2");
    const uint64_t channels = w->second.shape[0];
    Result<const HostTensor *> scale =
        f32Tensor(q.tensors, l.layer + ".weight_scale", what, channels);
    if (!scale)
      return scale.status();
    for (size_t o = 0; o < channels; ++o) {
      const float s = (*scale)->f32()[o];
      if (!(s > 0.0f) || !std::isfinite(s))
        return Status::error(what + ": weight_scale[" + std::to_string(o) +
                             "] is not a positive finite number");
    }
    if (q.tensors.count(l.layer + ".bias"))
      if (Result<const HostTensor *> b = f32Tensor(q.tensors, l.layer + ".bias", what, channels);
          !b)
        return b.status();
  }
  return q;
}

} // namespace nnc::rt
