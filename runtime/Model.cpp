//===- Model.cpp - Load and run a compiled nnc model ----------------------===//

#include "runtime/Model.h"

#include "runtime/Gpu.h"
#include "runtime/Json.h"
#include "runtime/Kernels.h"
#include "runtime/Memory.h"
#include "runtime/Random.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>

using namespace nnc::rt;

namespace {

/// Persistent regions: what the host initializes, loads and saves.
bool isPersistent(const Region &r) {
  return r.kind == "param" || r.kind == "buffer" || r.kind == "state";
}

/// The spans of `entry`'s regions of `kind` (input or output).
std::vector<ArenaSpan> entrySpans(const std::vector<Region> &regions, const std::string &entry,
                                  const char *kind) {
  std::vector<ArenaSpan> spans;
  std::string prefix = entry + ".";
  for (const Region &r : regions)
    if (r.kind == kind && r.name.compare(0, prefix.size(), prefix) == 0)
      spans.push_back({r.offset, r.bytes});
  return spans;
}

constexpr int64_t kArenaAlign = 64;

Status bad(const std::string &path, const std::string &what) {
  return Status::error(path + ": " + what);
}

/// `*v` as a non-negative integer that fits int64_t, else std::nullopt.
std::optional<int64_t> asInt(const Json *v) {
  std::optional<uint64_t> u = jsonUInt64(v);
  if (!u || *u > uint64_t(INT64_MAX))
    return std::nullopt;
  return int64_t(*u);
}

/// `*v` as a string, "" if it is none.
std::string asString(const Json *v) {
  const std::string *s = jsonString(v);
  return s ? *s : std::string();
}

int64_t elementBytes(const std::string &dtype) {
  if (dtype == "f32" || dtype == "i32")
    return 4;
  if (dtype == "f16" || dtype == "bf16")
    return 2;
  if (dtype == "i64")
    return 8;
  if (dtype == "u8" || dtype == "i8")
    return 1;
  return 0;
}

} // namespace

const char *nnc::rt::deviceName(Device device) { return device == Device::Gpu ? "gpu" : "cpu"; }

int64_t Region::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

Result<std::unique_ptr<Model>> Model::load(const std::string &path,
                                           std::optional<Device> expected) {
  std::unique_ptr<Model> m(new Model());
  m->path_ = path;
  m->handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!m->handle_) {
    const char *why = dlerror();
    return bad(path, std::string("cannot load the compiled model: ") +
                         (why ? why : "unknown error"));
  }
  auto *info = static_cast<const char *>(dlsym(m->handle_, "nnc_model_info"));
  if (!info)
    return bad(path, "not an nnc model: it has no 'nnc_model_info' table");
  m->info_ = info;
  std::string error;
  std::optional<Json> root = parseJson(m->info_, error);
  if (!root)
    return bad(path, "corrupt model table: " + error);
  if (!root->is_object())
    return bad(path, "corrupt model table: not a JSON object");
  if (asString(jsonMember(root, "format")) != "nnc-model" ||
      asInt(jsonMember(root, "version")).value_or(0) != 1)
    return bad(path, "unsupported model table (expected format nnc-model, version 1)");
  m->name_ = asString(jsonMember(root, "model"));
  std::string device = asString(jsonMember(root, "device"));
  if (device == "gpu")
    m->device_ = Device::Gpu;
  else if (!device.empty() && device != "cpu")
    return bad(path, "model table names an unknown device '" + device + "'");
  if (expected && *expected != m->device_)
    return bad(path, std::string("built for the ") + (m->device_ == Device::Gpu ? "GPU" : "CPU") +
                         ", not the " + (*expected == Device::Gpu ? "GPU" : "CPU") +
                         "; rebuild it with --device " + deviceName(*expected));
  // Before anything else is checked: the one line that says why it cannot run.
  if (m->device_ == Device::Gpu && !gpu::unavailableReason().empty())
    return Status::error("cannot use the GPU: " + gpu::unavailableReason());
  std::optional<int64_t> arenaBytes = asInt(jsonMember(root, "arena_bytes"));
  if (!arenaBytes || *arenaBytes <= 0)
    return bad(path, "model table has no valid arena_bytes");
  m->arenaBytes_ = *arenaBytes;
  m->precision_ = asString(jsonMember(root, "precision"));
  if (!m->precision_.empty() && m->precision_ != "bf16" && m->precision_ != "f16")
    return bad(path, "model table names an unknown precision '" + m->precision_ + "'");

  const Json *regions = jsonMember(root, "regions");
  if (!regions || !regions->is_array())
    return bad(path, "model table has no regions");
  for (const Json &r : *regions) {
    Region region;
    region.name = asString(jsonMember(&r, "name"));
    region.kind = asString(jsonMember(&r, "kind"));
    region.dtype = asString(jsonMember(&r, "dtype"));
    region.init = asString(jsonMember(&r, "init"));
    if (const Json *s = jsonMember(&r, "scale"); s && s->is_number())
      region.scale = s->get<double>();
    std::optional<int64_t> offset = asInt(jsonMember(&r, "offset")),
                           bytes = asInt(jsonMember(&r, "bytes"));
    const Json *shape = jsonMember(&r, "shape");
    if (region.name.empty() || !offset || !bytes || !shape ||
        !shape->is_array())
      return bad(path, "corrupt region in the model table");
    for (const Json &d : *shape) {
      std::optional<int64_t> dim = asInt(&d);
      if (!dim)
        return bad(path, "corrupt shape of region '" + region.name + "'");
      region.shape.push_back(*dim);
    }
    int64_t eb = elementBytes(region.dtype);
    if (eb == 0 || region.numElements() * eb != *bytes || *offset % 4 != 0 ||
        *offset + *bytes > m->arenaBytes_)
      return bad(path, "region '" + region.name + "' does not fit the arena");
    region.offset = *offset;
    region.bytes = *bytes;
    m->regions_.push_back(std::move(region));
  }

  // Older artifacts left input normalization to the runtime; feeding them
  // what today's artifacts take would give silently wrong answers.
  if (jsonMember(root, "normalize"))
    return bad(path, "built by an older nnc that leaves input normalization to "
                     "the caller; rebuild it");

  if (const Json *ops = jsonMember(root, "numerics_ops");
      ops && ops->is_array())
    for (const Json &op : *ops)
      m->numericsOps_.push_back(asString(&op));

  const Json *entries = jsonMember(root, "entries");
  if (!entries || !entries->is_array())
    return bad(path, "model table has no entries");
  for (const Json &e : *entries) {
    std::string entry = asString(&e);
    void *fn = dlsym(m->handle_, ("_mlir_ciface_nnc_" + entry).c_str());
    if (!fn)
      return bad(path, "entry point '" + entry + "' is missing");
    m->entryNames_.push_back(entry);
    m->entryFns_.push_back(fn);
  }

  m->residentBeforeArena_ = residentMemory().current;
  if (m->device_ == Device::Gpu) {
    // One device allocation of exactly the planned bytes, and its mirror.
    Result<std::unique_ptr<DeviceArena>> arena = DeviceArena::create(m->arenaBytes_);
    if (!arena)
      return bad(path, arena.message());
    m->deviceArena_ = std::move(*arena);
    m->arena_ = m->deviceArena_->host();
    m->allocatedBytes_ = m->arenaBytes_;
    std::vector<ArenaSpan> persistent;
    for (const Region &r : m->regions_)
      if (isPersistent(r))
        persistent.push_back({r.offset, r.bytes});
    // Alignment padding between regions is copied along: fewer copies.
    m->deviceArena_->setPersistent(mergeSpans(std::move(persistent), kArenaAlign));
    for (size_t i = 0; i < m->entryNames_.size(); ++i)
      m->deviceArena_->addEntry(m->entryFns_[i],
                                entrySpans(m->regions_, m->entryNames_[i], "input"),
                                entrySpans(m->regions_, m->entryNames_[i], "output"));
    if (Status st = m->deviceArena_->allocateStaging(); st.failed())
      return bad(path, st.message());
    if (!m->numericsOps_.empty())
      m->deviceArena_->setGraphs(false);
    return m;
  }
  size_t size = (m->arenaBytes_ + kArenaAlign - 1) / kArenaAlign * kArenaAlign;
  m->arena_ = static_cast<char *>(std::aligned_alloc(kArenaAlign, size));
  if (!m->arena_)
    return bad(path, "cannot allocate the " + groupDigits(m->arenaBytes_) + " B arena");
  m->allocatedBytes_ = static_cast<int64_t>(size);
  std::memset(m->arena_, 0, size);
  return m;
}

Model::~Model() {
  if (deviceArena_)
    deviceArena_.reset();
  else
    std::free(arena_);
  if (handle_)
    dlclose(handle_);
}

const Region *Model::region(std::string_view name) const {
  for (const Region &r : regions_)
    if (r.name == name)
      return &r;
  return nullptr;
}

bool Model::hasEntry(std::string_view entry) const {
  for (const std::string &e : entryNames_)
    if (e == entry)
      return true;
  return false;
}

void Model::initialize(uint64_t seed) {
  Pcg32 rng(seed);
  for (const Region &r : regions_) {
    if (r.kind != "param" && r.kind != "buffer" && r.kind != "state")
      continue;
    if (r.dtype != "f32") {
      std::memset(data(r), 0, r.bytes);
      continue;
    }
    float *p = dataAs<float>(r);
    int64_t n = r.numElements();
    if (r.init == "ones")
      initOnes(p, n);
    else if (r.init == "uniform")
      initUniform(p, n, float(r.scale), rng);
    else if (r.init == "normal")
      initNormal(p, n, 0.0f, float(r.scale), rng);
    else
      initZeros(p, n);
  }
  hostChanged();
}

Status Model::run(std::string_view entry) {
  if (Status st = start(entry); st.failed())
    return st;
  return finish();
}

Status Model::start(std::string_view entry) {
  // One entry at a time: the previous one must have finished.
  if (Status st = finish(); st.failed())
    return st;
  for (size_t i = 0; i < entryNames_.size(); ++i) {
    if (entryNames_[i] != entry)
      continue;
    nnc_kernels_clear_error();
    running_ = entryNames_[i];
    if (!deviceArena_) {
      callEntryPoint(entryFns_[i], arena_, arenaBytes_);
      return Status::success();
    }
    deviceArena_->start(i, hostChanged_);
    // Uploaded (finish() sets it again if the entry fails).
    hostChanged_ = false;
    // forward and loss read the persistent regions only (docs/abi.md);
    // any other entry (train_step) may have updated them on the device.
    if (entry != "forward" && entry != "loss")
      deviceChanged_ = true;
    return Status::success();
  }
  return bad(path_, "the model has no entry point '" + std::string(entry) + "'");
}

Status Model::prefetch(std::string_view entry) {
  if (!deviceArena_)
    return Status::success();
  for (size_t i = 0; i < entryNames_.size(); ++i)
    if (entryNames_[i] == entry) {
      if (Status st = deviceArena_->prefetch(i); st.failed())
        return bad(path_, entryNames_[i] + ": " + st.message());
      return Status::success();
    }
  return bad(path_, "the model has no entry point '" + std::string(entry) + "'");
}

Status Model::finish() {
  if (running_.empty())
    return Status::success();
  std::string entry = std::move(running_);
  running_.clear();
  if (deviceArena_)
    deviceArena_->finish();
  // A kernel that could not compute its outputs on this machine says why.
  if (const char *why = nnc_kernels_error()) {
    hostChanged_ = deviceArena_ != nullptr;
    return bad(path_, entry + ": " + why);
  }
  return Status::success();
}

Status Model::syncToHost() {
  if (Status st = finish(); st.failed())
    return st;
  if (!deviceArena_ || !deviceChanged_)
    return Status::success();
  nnc_kernels_clear_error();
  deviceArena_->syncToHost();
  if (const char *why = nnc_kernels_error())
    return bad(path_, why);
  deviceChanged_ = false;
  return Status::success();
}

void Model::setCudaGraphs(bool on) {
  if (deviceArena_)
    deviceArena_->setGraphs(on && numericsOps_.empty());
}

int64_t Model::inputStagingBytes() const {
  return deviceArena_ ? 2 * deviceArena_->stagingSlotBytes() : 0;
}

DeviceMemoryInfo Model::deviceMemory() const {
  return deviceArena_ ? deviceArena_->memory() : DeviceMemoryInfo();
}
