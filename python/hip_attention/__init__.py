"""HiP attention for Python: pure Python over the C API (hip/c_api.h) with ctypes.

Tensors go in and come out through DLPack, without copies: numpy arrays in,
numpy arrays out; torch tensors (CPU or CUDA) in, torch tensors out; any other
object with ``__dlpack__`` in, a DLPack-capable result out. The library is
``libhipattn.so``, found next to this package, through the environment
variable HIP_ATTENTION_LIBRARY, or in the build tree (``build/lib``).

    import numpy as np, hip_attention
    out, mask = hip_attention.hip_attention(q, k, v, mask_k=512)   # q pre-scaled
    dense = hip_attention.dense_attention(q, k, v)

Errors raise ``hip_attention.InvalidArgument`` (bad input) or
``hip_attention.HipError`` with the library's message.
"""
import ctypes
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, byref, c_char_p, c_float, c_int,
                    c_int32, c_int64, c_uint8, c_uint16, c_uint64, c_void_p)

__all__ = ["hip_attention", "dense_attention", "paged_hip_attention", "paged_dense_attention",
           "append_paged_kv", "flash_attn_func", "Mask", "HipError", "InvalidArgument",
           "library_path"]


class HipError(RuntimeError):
    """A failed call of the library; ``status`` is its hip_status code."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class InvalidArgument(HipError, ValueError):
    """Bad input: the message names the argument and the constraint."""


# ---- DLPack structures (dlpack.h) -------------------------------------------------------------
class DLDevice(Structure):
    _fields_ = [("device_type", c_int), ("device_id", c_int32)]


class DLDataType(Structure):
    _fields_ = [("code", c_uint8), ("bits", c_uint8), ("lanes", c_uint16)]


class DLTensor(Structure):
    _fields_ = [("data", c_void_p), ("device", DLDevice), ("ndim", c_int32),
                ("dtype", DLDataType), ("shape", POINTER(c_int64)),
                ("strides", POINTER(c_int64)), ("byte_offset", c_uint64)]


class DLManagedTensor(Structure):
    pass


_DELETER = CFUNCTYPE(None, POINTER(DLManagedTensor))
DLManagedTensor._fields_ = [("dl_tensor", DLTensor), ("manager_ctx", c_void_p),
                            ("deleter", _DELETER)]
_KDLCPU, _KDLCUDA = 1, 2


class _Args(Structure):  # hip_attention_args
    _fields_ = [("mask_k", c_int64), ("block_size_q", c_int64), ("block_stride_q", c_int64),
                ("block_size_k", c_int64), ("block_stride_k", c_int64),
                ("sink_token_size", c_int64), ("sliding_window_size", c_int64),
                ("is_causal", c_int32), ("has_softmax_scale", c_int32),
                ("softmax_scale", c_float), ("mask_pipeline", c_char_p), ("backend", c_int)]


class _Cache(Structure):  # hip_paged_kv_cache
    _fields_ = [("k_cache", POINTER(DLTensor)), ("v_cache", POINTER(DLTensor)),
                ("block_table", POINTER(DLTensor)), ("seq_lens", POINTER(DLTensor))]


# ---- The library ------------------------------------------------------------------------------
def library_path():
    """Where libhipattn.so is taken from (the first that exists)."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.environ.get("HIP_ATTENTION_LIBRARY", ""),
                  os.path.join(here, "libhipattn.so"),
                  os.path.join(here, "..", "..", "build", "lib", "libhipattn.so")]
    for c in candidates:
        if c and os.path.exists(c):
            return os.path.abspath(c)
    raise OSError("libhipattn.so not found: set HIP_ATTENTION_LIBRARY, put it next to the "
                  "package, or build the project (scripts/setup.sh); looked at " +
                  ", ".join(c for c in candidates if c))


_lib = None


def _library():
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(library_path())
        lib.hip_last_error.restype = c_char_p
        lib.hip_tensor_free.restype = None
        lib.hip_mask_free.restype = None
        _lib = lib
    return _lib


def _check(status):
    if status != 0:
        message = _library().hip_last_error().decode("utf-8", "replace")
        raise (InvalidArgument if status == 1 else HipError)(status, message)


_BACKENDS = {"auto": 0, "cpu": 1, "cuda": 2}


def _backend(name):
    if name not in _BACKENDS:
        raise InvalidArgument(1, "backend must be one of auto, cpu, cuda, got %r" % (name,))
    return _BACKENDS[name]


# ---- Inputs: anything with __dlpack__ ---------------------------------------------------------
ctypes.pythonapi.PyCapsule_GetPointer.restype = c_void_p
ctypes.pythonapi.PyCapsule_GetPointer.argtypes = [ctypes.py_object, c_char_p]
ctypes.pythonapi.PyCapsule_New.restype = ctypes.py_object
ctypes.pythonapi.PyCapsule_New.argtypes = [c_void_p, c_char_p, c_void_p]


class _In:
    """A DLTensor borrowed from `x` for one call (the capsule keeps it alive)."""

    def __init__(self, x, name):
        if not hasattr(x, "__dlpack__"):
            raise InvalidArgument(1, "%s must support DLPack (__dlpack__), got %s" % (name, type(x)))
        self.capsule = x.__dlpack__()
        ptr = ctypes.pythonapi.PyCapsule_GetPointer(self.capsule, b"dltensor")
        self.managed = ctypes.cast(ptr, POINTER(DLManagedTensor))
        self.ref = ctypes.pointer(self.managed.contents.dl_tensor)


# ---- Results: owned by the library, handed out through DLPack -------------------------------
_live = {}  # id of a DLManagedTensor -> what it keeps alive until its deleter runs


@_DELETER
def _delete(managed):
    entry = _live.pop(ctypes.addressof(managed.contents), None)
    if entry is not None:
        _library().hip_tensor_free(entry[0])


class Result:
    """A tensor the library computed; pass it to numpy.from_dlpack or torch.from_dlpack."""

    def __init__(self, handle):
        self._handle = handle
        self._view = DLTensor()
        _check(_library().hip_tensor_dlpack(handle, byref(self._view)))

    def __dlpack_device__(self):
        return (self._view.device.device_type, self._view.device.device_id)

    def __dlpack__(self, stream=None, max_version=None, dl_device=None, copy=None):
        if self._handle is None:
            raise HipError(0, "this result was already handed over through DLPack")
        m = DLManagedTensor()
        m.dl_tensor = self._view
        m.deleter = _delete
        _live[ctypes.addressof(m)] = (self._handle, m, self)
        self._handle = None  # (the capsule owns it now)
        # (No capsule destructor: numpy and torch consume the capsule and call
        # the deleter; a capsule nobody consumes keeps its tensor.)
        return ctypes.pythonapi.PyCapsule_New(ctypes.addressof(m), b"dltensor", None)

    def __del__(self):
        if getattr(self, "_handle", None) is not None and _lib is not None:
            _lib.hip_tensor_free(self._handle)
            self._handle = None


def _like(x, result):
    """`result` as the kind of tensor `x` is (numpy, torch), without a copy."""
    module = type(x).__module__.split(".")[0]
    if module == "numpy":
        import numpy
        return numpy.from_dlpack(result)
    if module == "torch":
        import torch
        return torch.from_dlpack(result)
    return result


class Mask:
    """A HiP mask (the selected key blocks) that a later call can reuse."""

    def __init__(self, handle):
        self._handle = handle

    def arrays(self):
        """(indices, ks) as numpy int32 arrays (copies; host masks only): the token offsets
        of the selected key blocks [B*H, query blocks, max blocks] and their counts."""
        import numpy
        out = []
        views = (DLTensor(), DLTensor())
        _check(_library().hip_mask_dlpack(self._handle, byref(views[0]), byref(views[1])))
        for v in views:
            if v.device.device_type != _KDLCPU:
                raise HipError(0, "Mask.arrays: the mask lives on the GPU")
            shape = tuple(v.shape[i] for i in range(v.ndim))
            n = int(numpy.prod(shape)) if shape else 1
            buf = (ctypes.c_int32 * n).from_address(v.data) if n else (ctypes.c_int32 * 0)()
            out.append(numpy.array(buf, dtype=numpy.int32).reshape(shape))
        return tuple(out)

    def __del__(self):
        if getattr(self, "_handle", None) is not None and _lib is not None:
            _lib.hip_mask_free(self._handle)
            self._handle = None


# ---- The calls --------------------------------------------------------------------------------
_ARG_NAMES = ("mask_k", "block_size_q", "block_stride_q", "block_size_k", "block_stride_k",
              "sink_token_size", "sliding_window_size")


def _args(kwargs):
    a = _Args()
    _check(_library().hip_attention_args_init(byref(a)))
    for name in list(kwargs):
        if name in _ARG_NAMES:
            setattr(a, name, int(kwargs.pop(name)))
    if "is_causal" in kwargs:
        a.is_causal = 1 if kwargs.pop("is_causal") else 0
    scale = kwargs.pop("softmax_scale", None)
    if scale is not None:
        a.has_softmax_scale, a.softmax_scale = 1, float(scale)
    pipeline = kwargs.pop("mask_pipeline", None)
    keep = pipeline.encode() if pipeline else None
    a.mask_pipeline = keep
    a.backend = _backend(kwargs.pop("backend", "auto"))
    if kwargs:
        raise InvalidArgument(1, "unknown argument(s): " + ", ".join(sorted(kwargs)))
    return a, keep


def hip_attention(q, k, v, previous=None, **kwargs):
    """HiP attention: q [B, T_q, H, D] (pre-scaled by 1/sqrt(D) unless softmax_scale is
    given), k and v [B, T_k, H_kv, D]. Keyword arguments as the C++ HiPAttentionArgs:
    mask_k, block_size_q, block_stride_q, block_size_k, block_stride_k, sink_token_size,
    sliding_window_size, is_causal, softmax_scale, mask_pipeline (JSON), backend
    ("auto", "cpu", "cuda"). `previous` (a Mask) reuses a mask. Returns (out, mask)."""
    a, _keep = _args(dict(kwargs))
    ins = [_In(q, "q"), _In(k, "k"), _In(v, "v")]
    out, mask = c_void_p(), c_void_p()
    _check(_library().hip_attention(ins[0].ref, ins[1].ref, ins[2].ref, byref(a),
                                    previous._handle if previous else None, byref(out),
                                    byref(mask)))
    return _like(q, Result(out)), Mask(mask)


def dense_attention(q, k, v, is_causal=True, softmax_scale=None, backend="auto"):
    """Dense (flash) attention with hip_attention's conventions."""
    ins = [_In(q, "q"), _In(k, "k"), _In(v, "v")]
    out = c_void_p()
    _check(_library().hip_dense_attention(
        ins[0].ref, ins[1].ref, ins[2].ref, c_int32(1 if is_causal else 0),
        c_int32(0 if softmax_scale is None else 1), c_float(softmax_scale or 0.0),
        c_int(_backend(backend)), byref(out)))
    return _like(q, Result(out))


def _cache(k_cache, v_cache, block_table, seq_lens):
    ins = [_In(k_cache, "k_cache"), _In(v_cache, "v_cache"), _In(block_table, "block_table"),
           _In(seq_lens, "seq_lens")]
    return _Cache(*[i.ref for i in ins]), ins


def paged_hip_attention(q, k_cache, v_cache, block_table, seq_lens, cu_seqlens_q, **kwargs):
    """HiP attention over a paged KV cache (hip/attention.h): q [num_tokens, H, D], caches
    [num_pages, page_size, H_kv, D], block_table int32 [B, max_pages], seq_lens int32 [B],
    cu_seqlens_q int32 [B + 1]. Returns out [num_tokens, H, D]."""
    a, _keep = _args(dict(kwargs))
    cache, keep = _cache(k_cache, v_cache, block_table, seq_lens)
    qi, cu = _In(q, "q"), _In(cu_seqlens_q, "cu_seqlens_q")
    out = c_void_p()
    _check(_library().hip_paged_attention(qi.ref, byref(cache), cu.ref, byref(a), byref(out)))
    return _like(q, Result(out))


def paged_dense_attention(q, k_cache, v_cache, block_table, seq_lens, cu_seqlens_q,
                          backend="auto"):
    """Dense attention over a paged KV cache (as paged_hip_attention)."""
    cache, keep = _cache(k_cache, v_cache, block_table, seq_lens)
    qi, cu = _In(q, "q"), _In(cu_seqlens_q, "cu_seqlens_q")
    out = c_void_p()
    _check(_library().hip_paged_dense_attention(qi.ref, byref(cache), cu.ref,
                                                c_int(_backend(backend)), byref(out)))
    return _like(q, Result(out))


def append_paged_kv(k_cache, v_cache, block_table, seq_lens, k_new, v_new, cu_seqlens_q):
    """Writes k_new, v_new [num_tokens, H_kv, D] into the cache in place (seq_lens already
    count the new tokens)."""
    cache, keep = _cache(k_cache, v_cache, block_table, seq_lens)
    ins = [_In(k_new, "k_new"), _In(v_new, "v_new"), _In(cu_seqlens_q, "cu_seqlens_q")]
    _check(_library().hip_append_paged_kv(byref(cache), ins[0].ref, ins[1].ref, ins[2].ref))


def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, **hip_kwargs):
    """flash_attn.flash_attn_func's signature ([B, T, H, D] tensors; softmax_scale defaults
    to 1/sqrt(D)), computed with HiP attention (hip_kwargs: mask_k, ...)."""
    if dropout_p:
        raise InvalidArgument(1, "dropout_p must be 0 (HiP attention has no dropout)")
    if softmax_scale is None:
        softmax_scale = float(q.shape[-1]) ** -0.5
    out, _ = hip_attention(q, k, v, is_causal=causal, softmax_scale=softmax_scale, **hip_kwargs)
    return out
