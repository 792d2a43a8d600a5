//===- TrainDataParallel.cpp - The training loop's data parallelism -------===//
//
// Part of nnc's runtime (runtime/TrainDataParallel.h).
//
//===----------------------------------------------------------------------===//

#include "runtime/TrainDataParallel.h"
#include "runtime/Json.h"

#include <cstring>

using namespace nnc::rt;

namespace {
std::vector<uint64_t> shapeOf(const Region &r) {
  return std::vector<uint64_t>(r.shape.begin(), r.shape.end());
}
} // namespace

bool DataParallelPlan::isShardRegion(const Region *r) const {
  for (const Group &g : groups)
    for (const Column &c : g.columns)
      if (c.region == r)
        return true;
  return false;
}

Result<DataParallelPlan> nnc::rt::dataParallelPlan(const Model &model) {
  DataParallelPlan plan;
  std::string error;
  std::optional<Json> info = parseJson(model.info(), error);
  const Json *dp = jsonMember(info, "data_parallel");
  if (!dp)
    return plan;
  auto bad = [&](const std::string &what) {
    return Status::error("model '" + model.name() + "': its model table's data_parallel " + what);
  };
  auto regionNamed = [&](const std::string &name) -> const Region * {
    for (const Region &r : model.regions())
      if (r.name == name)
        return &r;
    return nullptr;
  };
  plan.present = true;
  std::optional<uint64_t> ranks = jsonUInt64(jsonMember(dp, "ranks"));
  const std::string *shard = jsonString(jsonMember(dp, "shard"));
  if (!ranks || *ranks < 1 || *ranks > 65536 || !shard || (*shard != "none" && *shard != "opt"))
    return bad("needs ranks (>= 1) and shard (\"none\" or \"opt\")");
  plan.ranks = int64_t(*ranks);
  plan.sharded = *shard == "opt";
  if (!plan.sharded)
    return plan;
  const Json *groups = jsonMember(dp, "groups");
  if (!groups || !groups->is_array())
    return bad("has no groups");
  for (const Json &g : *groups) {
    DataParallelPlan::Group group;
    std::optional<uint64_t> count = jsonUInt64(jsonMember(&g, "count"));
    const Json *params = jsonMember(&g, "params"), *state = jsonMember(&g, "state");
    if (!count || *count % uint64_t(plan.ranks) != 0 || !params || !params->is_array() || !state ||
        !state->is_array())
      return bad("group needs count (a multiple of the ranks), params and state");
    group.count = int64_t(*count);
    int64_t total = 0;
    for (const Json &name : *params) {
      const Region *r = name.is_string() ? regionNamed(name.get<std::string>()) : nullptr;
      if (!r || r->kind != "param" || r->dtype != "f32")
        return bad("group names a parameter that is not an f32 param region");
      group.params.push_back(r);
      total += r->numElements();
    }
    if (total > group.count)
      return bad("group's parameters hold more than its count");
    for (const Json &c : *state) {
      const std::string *suffix = jsonString(jsonMember(&c, "suffix"));
      const std::string *name = jsonString(jsonMember(&c, "region"));
      const Region *r = name ? regionNamed(*name) : nullptr;
      if (!suffix || !r || r->kind != "state" || r->dtype != "f32" ||
          r->numElements() * plan.ranks != group.count)
        return bad("state column must name an f32 state region of count / ranks elements");
      group.columns.push_back({*suffix, r});
    }
    plan.groups.push_back(std::move(group));
  }
  return plan;
}

ShardedState::ShardedState(const DataParallelPlan &plan) : plan(plan) {
  for (const DataParallelPlan::Group &g : plan.groups)
    for (size_t c = 0; c < g.columns.size(); ++c)
      buffers.emplace_back();
}

template <typename Fn> void ShardedState::forEachSlice(Fn fn) const {
  size_t b = 0;
  for (const DataParallelPlan::Group &g : plan.groups)
    for (const DataParallelPlan::Column &c : g.columns) {
      float *data = const_cast<float *>(buffers[b++].data());
      int64_t offset = 0;
      for (const Region *param : g.params) {
        fn(param, c.suffix, data + offset);
        offset += param->numElements();
      }
    }
}

Status ShardedState::gather(Model &model, Communicator *comm) {
  if (Status st = model.syncToHost(); st.failed())
    return st;
  size_t b = 0;
  for (const DataParallelPlan::Group &g : plan.groups)
    for (const DataParallelPlan::Column &c : g.columns) {
      std::vector<float> &buffer = buffers[b++];
      buffer.assign(size_t(g.count), 0.0f);
      int64_t shard = c.region->numElements();
      int64_t rank = comm ? comm->rank() : 0;
      std::memcpy(buffer.data() + rank * shard, model.data(*c.region),
                  size_t(shard) * sizeof(float));
      if (comm && comm->size() > 1)
        if (Status st = comm->allGather(buffer.data(), g.count); st.failed())
          return st;
    }
  return Status::success();
}

std::vector<WriteTensor> ShardedState::tensors() const {
  std::vector<WriteTensor> out;
  forEachSlice([&](const Region *param, const std::string &suffix, float *data) {
    out.push_back({param->name + "." + suffix, nnc::TensorDType::F32, shapeOf(*param), data});
  });
  return out;
}

std::vector<LoadTarget> ShardedState::targets() {
  std::vector<LoadTarget> out;
  size_t b = 0;
  for (const DataParallelPlan::Group &g : plan.groups)
    for (size_t c = 0; c < g.columns.size(); ++c)
      buffers[b++].assign(size_t(g.count), 0.0f);
  forEachSlice([&](const Region *param, const std::string &suffix, float *data) {
    out.push_back({param->name + "." + suffix, nnc::TensorDType::F32, shapeOf(*param), data});
  });
  return out;
}

void ShardedState::scatter(Model &model, int64_t rank) {
  size_t b = 0;
  for (const DataParallelPlan::Group &g : plan.groups)
    for (const DataParallelPlan::Column &c : g.columns) {
      int64_t shard = c.region->numElements();
      std::memcpy(model.data(*c.region), buffers[b++].data() + rank * shard,
                  size_t(shard) * sizeof(float));
    }
  model.hostChanged();
}

Status nnc::rt::averageBuffers(Model &model, Communicator *comm) {
  if (!comm || comm->size() == 1)
    return Status::success();
  if (Status st = model.syncToHost(); st.failed())
    return st;
  float inverse = float(1.0 / double(comm->size()));
  for (const Region &region : model.regions()) {
    const Region *r = &region;
    if (r->kind != "buffer" || r->dtype != "f32")
      continue;
    float *p = model.dataAs<float>(*r);
    if (Status st = comm->allReduceSum(p, r->numElements()); st.failed())
      return st;
    for (int64_t i = 0, n = r->numElements(); i < n; ++i)
      p[i] *= inverse;
  }
  model.hostChanged();
  return Status::success();
}
