//===- hip/tensor.h - Tensor views and owning tensors ------------*- C++ -*-===//
//
// The public API takes tensors as `TensorView`s: a data pointer, an element
// type, where the memory lives (host or CUDA device), a shape and strides in
// elements, like a DLPack DLTensor (and built from one without a copy). It
// returns owning, contiguous `Tensor`s. No MLIR or CUDA header is included.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hip/dlpack_compat.h"

namespace hip {

enum class ScalarType { f32, f16, bf16, i32, i64 };
/// Where a tensor's memory lives.
enum class Device { CPU, CUDA };

const char *scalarTypeName(ScalarType t);
std::size_t elementSize(ScalarType t);

/// A non-owning view of a strided tensor.
struct TensorView {
  void *data = nullptr;
  ScalarType dtype = ScalarType::f32;
  Device device = Device::CPU;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides; // elements; empty = contiguous row-major

  TensorView() = default;
  TensorView(void *data, ScalarType dtype, std::vector<int64_t> shape, Device device = Device::CPU,
             std::vector<int64_t> strides = {});
  /// A view of a DLPack tensor (CPU, CUDA, CUDA host or managed memory;
  /// f32/f16/bf16/i32/i64, one lane). Throws InvalidArgument otherwise.
  static TensorView fromDLPack(const DLTensor &t);
  /// A DLPack view of this view: its shape and strides point into this
  /// object, which must outlive it (strides NULL when contiguous).
  DLTensor toDLPack() const;

  bool defined() const { return !shape.empty() || data; }
  int64_t dim() const { return int64_t(shape.size()); }
  int64_t numel() const;
  int64_t stride(int64_t i) const;
  bool contiguous() const;
  std::string str() const; // "bf16[1, 128, 8, 64] cuda"
  /// Throws InvalidArgument naming `name` unless the view can be read: no
  /// negative dimension or stride, element and byte counts (and the span the
  /// strides reach) within int64, and data when it holds elements.
  void validate(const std::string &name) const;
};

/// Bytes of `shape` elements of `t`; InvalidArgument when a dimension is
/// negative or the count overflows.
std::size_t checkedBytes(const std::vector<int64_t> &shape, ScalarType t, const std::string &what);

/// An owning, contiguous tensor on the host or on the CUDA device.
class Tensor {
public:
  Tensor() = default;
  static Tensor empty(std::vector<int64_t> shape, ScalarType dtype, Device device);
  /// A contiguous copy of `v` on `device`, converted to `dtype` when given.
  static Tensor copyOf(const TensorView &v, Device device);

  TensorView view() const;
  void *data() const { return data_.get(); }
  ScalarType dtype() const { return dtype_; }
  Device device() const { return device_; }
  const std::vector<int64_t> &shape() const { return shape_; }
  int64_t numel() const;
  std::size_t bytes() const { return std::size_t(numel()) * elementSize(dtype_); }
  bool defined() const { return bool(data_) || !shape_.empty(); }
  /// The elements converted to float / to int64 (copied to the host first).
  std::vector<float> toFloat() const;
  std::vector<int64_t> toInt() const;

private:
  std::shared_ptr<void> data_;
  ScalarType dtype_ = ScalarType::f32;
  Device device_ = Device::CPU;
  std::vector<int64_t> shape_;
};

/// Elements of `v` (any device, any strides) as float, row-major.
std::vector<float> toFloatVector(const TensorView &v);

} // namespace hip
