/*===- hip/dlpack_compat.h - DLTensor, from dlpack.h or declared here -----===//
 *
 * The DLPack ABI (dlpack.h, v0.8 and later): the installed header when there
 * is one, else the part the library uses, declared here so that frameworks
 * can hand their tensors over without it. C and C++.
 *
 *===----------------------------------------------------------------------===*/
#ifndef HIP_DLPACK_COMPAT_H
#define HIP_DLPACK_COMPAT_H

#if defined(__has_include)
#if __has_include(<dlpack/dlpack.h>)
#include <dlpack/dlpack.h>
#define HIP_HAVE_DLPACK_H 1
#endif
#endif

#ifndef HIP_HAVE_DLPACK_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
typedef enum { kDLCPU = 1, kDLCUDA = 2, kDLCUDAHost = 3, kDLCUDAManaged = 13 } DLDeviceType;
typedef struct {
  DLDeviceType device_type;
  int32_t device_id;
} DLDevice;
typedef enum { kDLInt = 0U, kDLUInt = 1U, kDLFloat = 2U, kDLBfloat = 4U } DLDataTypeCode;
typedef struct {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
} DLDataType;
typedef struct {
  void *data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t *shape;
  int64_t *strides; /* in elements; NULL = compact row-major */
  uint64_t byte_offset;
} DLTensor;
#ifdef __cplusplus
}
#endif
#endif

#endif /* HIP_DLPACK_COMPAT_H */
