//===- kernels/tensor.cpp - Tensor views and owning tensors ---------------===//
#include "hip/tensor.h"

#include "hip/error.h"
#include "hip/kernels/examples.h"
#include "hip/runtime/cuda.h"

#include <cstring>
#include <new>
#include <sstream>

namespace hip {

const char *scalarTypeName(ScalarType t) {
  switch (t) {
  case ScalarType::f32: return "f32";
  case ScalarType::f16: return "f16";
  case ScalarType::bf16: return "bf16";
  case ScalarType::i32: return "i32";
  case ScalarType::i64: return "i64";
  }
  return "?";
}

std::size_t elementSize(ScalarType t) {
  switch (t) {
  case ScalarType::f16:
  case ScalarType::bf16: return 2;
  case ScalarType::i64: return 8;
  default: return 4;
  }
}

TensorView::TensorView(void *data, ScalarType dtype, std::vector<int64_t> shape, Device device,
                       std::vector<int64_t> strides)
    : data(data), dtype(dtype), device(device), shape(std::move(shape)),
      strides(std::move(strides)) {
  if (!this->strides.empty() && this->strides.size() != this->shape.size())
    throw InvalidArgument("TensorView: " + std::to_string(this->strides.size()) +
                          " strides given for " + std::to_string(this->shape.size()) +
                          " dimensions");
}

namespace {
/// The DLPack code and bits of each element type (both directions).
struct DLPackType {
  ScalarType type;
  uint8_t code, bits;
};
constexpr DLPackType kDLPackTypes[] = {{ScalarType::f32, kDLFloat, 32},
                                       {ScalarType::f16, kDLFloat, 16},
                                       {ScalarType::bf16, kDLBfloat, 16},
                                       {ScalarType::i32, kDLInt, 32},
                                       {ScalarType::i64, kDLInt, 64}};
} // namespace

TensorView TensorView::fromDLPack(const DLTensor &t) {
  auto bad = [&](const std::string &why) {
    return InvalidArgument("TensorView::fromDLPack: " + why);
  };
  if (t.dtype.lanes != 1) throw bad("vector lanes are not supported");
  const DLPackType *match = nullptr;
  for (const DLPackType &d : kDLPackTypes)
    if (t.dtype.code == d.code && t.dtype.bits == d.bits) match = &d;
  if (!match)
    throw bad("unsupported dtype (code " + std::to_string(t.dtype.code) + ", " +
              std::to_string(t.dtype.bits) + " bits); f32, f16, bf16, i32, i64 are");
  ScalarType st = match->type;
  Device dev;
  switch (t.device.device_type) {
  case kDLCPU:
  case kDLCUDAHost: dev = Device::CPU; break;
  case kDLCUDA:
  case kDLCUDAManaged: dev = Device::CUDA; break;
  default: throw bad("unsupported device type " + std::to_string(int(t.device.device_type)));
  }
  if (t.ndim < 0 || (t.ndim > 0 && !t.shape)) throw bad("bad ndim or missing shape");
  std::vector<int64_t> shape(t.shape, t.shape + t.ndim), strides;
  if (t.strides) strides.assign(t.strides, t.strides + t.ndim);
  return TensorView(static_cast<char *>(t.data) + t.byte_offset, st, shape, dev, strides);
}

DLTensor TensorView::toDLPack() const {
  DLTensor t{};
  t.data = data;
  t.device.device_type = device == Device::CUDA ? kDLCUDA : kDLCPU;
  t.ndim = int32_t(shape.size());
  for (const DLPackType &d : kDLPackTypes)
    if (d.type == dtype) t.dtype.code = d.code, t.dtype.bits = d.bits;
  t.dtype.lanes = 1;
  t.shape = const_cast<int64_t *>(shape.data());
  t.strides = strides.empty() ? nullptr : const_cast<int64_t *>(strides.data());
  return t;
}

std::size_t checkedBytes(const std::vector<int64_t> &shape, ScalarType t, const std::string &what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw InvalidArgument(what + ": negative dimension " + std::to_string(d));
    if (__builtin_mul_overflow(n, d, &n))
      throw InvalidArgument(what + ": the element count overflows");
  }
  int64_t bytes;
  if (__builtin_mul_overflow(n, int64_t(elementSize(t)), &bytes))
    throw InvalidArgument(what + ": the byte count overflows");
  return std::size_t(bytes);
}

void TensorView::validate(const std::string &name) const {
  std::string what = name + " " + str();
  checkedBytes(shape, dtype, what);
  int64_t span = 0; // the largest offset the strides reach, in elements
  for (int64_t i = 0; i < dim(); ++i) {
    int64_t st = stride(i), reach;
    if (st < 0) throw InvalidArgument(what + ": negative stride " + std::to_string(st));
    if (shape[size_t(i)] > 0 &&
        (__builtin_mul_overflow(st, shape[size_t(i)] - 1, &reach) ||
         __builtin_add_overflow(span, reach, &span)))
      throw InvalidArgument(what + ": the strides reach past int64");
  }
  if (!data && numel() > 0) throw InvalidArgument(what + ": null data pointer");
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

int64_t TensorView::stride(int64_t i) const {
  if (!strides.empty()) return strides[size_t(i)];
  int64_t s = 1;
  for (size_t j = size_t(i) + 1; j < shape.size(); ++j) s *= shape[j];
  return s;
}

bool TensorView::contiguous() const {
  int64_t s = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape[size_t(i)] != 1 && stride(i) != s) return false;
    s *= shape[size_t(i)];
  }
  return true;
}

std::string TensorView::str() const {
  std::ostringstream os;
  os << scalarTypeName(dtype) << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]" << (device == Device::CUDA ? " cuda" : " cpu");
  return os.str();
}

Tensor Tensor::empty(std::vector<int64_t> shape, ScalarType dtype, Device device) {
  Tensor t;
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  t.device_ = device;
  std::size_t bytes = std::max<std::size_t>(checkedBytes(t.shape_, dtype, "tensor"), 1);
  if (device == Device::CPU) {
    void *p = ::operator new(bytes, std::nothrow);
    if (!p)
      throw RuntimeError("out of host memory: cannot allocate " + std::to_string(bytes) +
                         " bytes for a " + std::string(scalarTypeName(dtype)) + " tensor");
    t.data_ = std::shared_ptr<void>(p, [](void *q) { ::operator delete(q); });
  } else {
    rt::DevicePtr p = rt::Cuda::get().alloc(bytes);
    t.data_ = std::shared_ptr<void>(reinterpret_cast<void *>(p), [](void *q) {
      rt::Cuda::get().free(reinterpret_cast<rt::DevicePtr>(q));
    });
  }
  return t;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t s : shape_) n *= s;
  return n;
}

TensorView Tensor::view() const { return TensorView(data_.get(), dtype_, shape_, device_); }

namespace {
// Copies the elements of `v` (row-major order) into contiguous host memory.
void gatherToHost(const TensorView &v, char *dst) {
  std::size_t es = elementSize(v.dtype);
  int64_t n = v.numel();
  if (n == 0) return;
  if (v.contiguous()) {
    if (v.device == Device::CPU) std::memcpy(dst, v.data, std::size_t(n) * es);
    else
      rt::Cuda::get().copyToHost(dst, reinterpret_cast<rt::DevicePtr>(v.data),
                                 std::size_t(n) * es);
    return;
  }
  // Strided: the span the view covers (non-negative strides), then pick.
  int64_t span = 1;
  for (int64_t i = 0; i < v.dim(); ++i) {
    if (v.stride(i) < 0) throw InvalidArgument("negative strides are not supported: " + v.str());
    span += (v.shape[size_t(i)] - 1) * v.stride(i);
  }
  std::vector<char> staged;
  const char *src = static_cast<const char *>(v.data);
  if (v.device == Device::CUDA) {
    staged.resize(std::size_t(span) * es);
    rt::Cuda::get().copyToHost(staged.data(), reinterpret_cast<rt::DevicePtr>(v.data),
                               staged.size());
    src = staged.data();
  }
  std::vector<int64_t> idx(size_t(v.dim()), 0);
  for (int64_t e = 0; e < n; ++e) {
    int64_t off = 0;
    for (int64_t i = 0; i < v.dim(); ++i) off += idx[size_t(i)] * v.stride(i);
    std::memcpy(dst + std::size_t(e) * es, src + std::size_t(off) * es, es);
    for (int64_t i = v.dim() - 1; i >= 0; --i) {
      if (++idx[size_t(i)] < v.shape[size_t(i)]) break;
      idx[size_t(i)] = 0;
    }
  }
}
} // namespace

Tensor Tensor::copyOf(const TensorView &v, Device device) {
  Tensor t = empty(v.shape, v.dtype, device);
  if (device == Device::CPU) {
    gatherToHost(v, static_cast<char *>(t.data()));
  } else if (t.bytes()) {
    std::vector<char> host(t.bytes());
    gatherToHost(v, host.data());
    rt::Cuda::get().copyToDevice(reinterpret_cast<rt::DevicePtr>(t.data()), host.data(),
                                 host.size());
  }
  return t;
}

std::vector<float> toFloatVector(const TensorView &v) {
  std::size_t es = elementSize(v.dtype);
  std::vector<char> raw(std::size_t(v.numel()) * es);
  gatherToHost(v, raw.data());
  std::vector<float> out(std::size_t(v.numel()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    const char *p = raw.data() + i * es;
    uint16_t h;
    switch (v.dtype) {
    case ScalarType::f32: std::memcpy(&out[i], p, 4); break;
    case ScalarType::f16: std::memcpy(&h, p, 2), out[i] = kernels::f16ToFloat(h); break;
    case ScalarType::bf16: std::memcpy(&h, p, 2), out[i] = kernels::bf16ToFloat(h); break;
    case ScalarType::i32: {
      int32_t x;
      std::memcpy(&x, p, 4);
      out[i] = float(x);
      break;
    }
    case ScalarType::i64: {
      int64_t x;
      std::memcpy(&x, p, 8);
      out[i] = float(x);
      break;
    }
    }
  }
  return out;
}

std::vector<float> Tensor::toFloat() const { return toFloatVector(view()); }

std::vector<int64_t> Tensor::toInt() const {
  std::vector<char> raw(bytes());
  gatherToHost(view(), raw.data());
  std::vector<int64_t> out(static_cast<std::size_t>(numel()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (dtype_ == ScalarType::i64) {
      std::memcpy(&out[i], raw.data() + 8 * i, 8);
    } else if (dtype_ == ScalarType::i32) {
      int32_t x;
      std::memcpy(&x, raw.data() + 4 * i, 4);
      out[i] = x;
    } else {
      throw InvalidArgument("Tensor::toInt: tensor is " + std::string(scalarTypeName(dtype_)));
    }
  }
  return out;
}

} // namespace hip
