"""GPU (CUDA via CuPy) kernels for meanfield's activations.

``import meanfield.gpu`` never imports CuPy; the kernels import it when they run.

* :mod:`meanfield.gpu.kernels`: forward / derivative / backward kernels for any activation
  with a SymPy template, and the fused backward with dL/dlam for the SELU family.
* :mod:`meanfield.gpu.plans`: which kernels an activation gets (pure Python).
* :mod:`meanfield.gpu.random`: counter-based Gaussian draws (Philox) for the CuPy backend.
* :mod:`meanfield.gpu.codegen`: CUDA source generated from a SymPy expression (pure Python).
"""

from meanfield.gpu.codegen import cuda_expression, generate_kernel_source, read_cuda_source
from meanfield.gpu.kernels import (
    BLOCK_SIZE,
    activation_backward,
    activation_backward_lambda,
    activation_derivative,
    activation_forward,
    activation_forward_derivative,
    is_available,
)
from meanfield.gpu.plans import KernelPlan, kernel_plan

__all__ = [
    "BLOCK_SIZE",
    "KernelPlan",
    "activation_backward",
    "activation_backward_lambda",
    "activation_derivative",
    "activation_forward",
    "activation_forward_derivative",
    "cuda_expression",
    "generate_kernel_source",
    "is_available",
    "kernel_plan",
    "read_cuda_source",
]
