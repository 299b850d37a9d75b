"""The simulator's results are bit-identical to those computed before bias_var, input_correlation and
the h_l-only storage of the backward pass (2 batch > width) existed, when those are unused.

The cases cover both weight kinds, implicit and dense Haar matrices, the Gram path (2 batch <= width)
and the recomputing path (2 batch > width), float32, redrawn weights, a weight mean and
centralization. Exact equality: the same NumPy/OpenBLAS on the same machine gives the same bits
(a different BLAS build may round differently; then regenerate with the commit named below).
"""

from __future__ import annotations

import numpy as np
import pytest

from meanfield.simulation import simulate
from meanfield.trace import RECORDS

_REGRESSION_CASES = [
    dict(act="selu", depth=4, width=16, batch=3, weights="gaussian", seed=5, n_seeds=2),
    dict(act="tanh", depth=4, width=16, batch=3, weights="orthogonal", seed=5, n_seeds=1),
    dict(act="elu", depth=3, width=8, batch=6, weights="orthogonal", seed=2, n_seeds=1, weight_mean=0.1),
    dict(act="relu", depth=3, width=8, batch=12, weights="gaussian", seed=1, n_seeds=1, dtype="float32",
         cache_weights=False, input_mean=0.3),
    dict(act="gelu", depth=3, width=12, batch=2, weights="gaussian", seed=0, n_seeds=1, weight_mean=0.05,
         centralize_weights=True, weight_var=1.7, input_var=0.5),
]

#: Records of _REGRESSION_CASES computed by the simulator of commit 41d866c (before bias_var,
#: input_correlation and the h_l-only backward storage), as float.hex strings: exact bits.
_REGRESSION_RECORDS = [
    {
        'q': [
            ['0x1.a20f70b604201p-1', '0x1.296b979a241e4p+0', '0x1.808049b56982fp+0', '0x1.12cc3d46c5a64p+0'],
            ['0x1.dd653253e9ae3p-1', '0x1.2fbb8be8ce87dp-1', '0x1.4c9de71f785afp-1', '0x1.d6f7fc57c3853p-1'],
        ],
        'mean': [
            ['-0x1.1d87932f2b000p-6', '-0x1.f0374fc11fa03p-4', '0x1.5b0d9e351d159p-1', '-0x1.928f7cd6b61ccp-4'],
            ['0x1.c17280804b680p-6', '0x1.2822d9a87d2ddp-4', '0x1.e2638b6f82580p-9', '-0x1.7ccd188ba88e3p-5'],
        ],
        'x_sq': [
            ['0x1.c9a540ac519efp-1', '0x1.22116e07586c5p+0', '0x1.b12f7459c7ee3p+0', '0x1.0f4d6c0fc5747p+0'],
            ['0x1.ef094bcd2d955p-1', '0x1.5b70b9b461f7dp-1', '0x1.7716f43ec0fdfp-1', '0x1.f6e59e9b53e30p-1'],
        ],
        'grad_h_sq': [
            ['0x1.2621a1504ab9fp+4', '0x1.c0884555c7cadp+3', '0x1.80e46bca980fcp+3', '0x1.9b747b5bef10bp+3'],
            ['0x1.cd9e4f91707a0p+4', '0x1.475d9a2c22c20p+4', '0x1.926c9b8506cf3p+3', '0x1.6abcc5d639435p+3'],
        ],
        'grad_w_fro': [
            ['0x1.0bff53a2dc918p+5', '0x1.c1b86cbcb1b36p+4', '0x1.caeac5e780983p+4', '0x1.156466ac0c353p+5'],
            ['0x1.2c00ef3338ae0p+5', '0x1.edc19a6a2ff7ap+4', '0x1.3b1a2c80cec36p+4', '0x1.417e3b04f989ep+4'],
        ],
        'h_mean': [
            ['0x1.400d8935625d5p-6', '-0x1.0fc306dbd5e88p-3', '0x1.59651a2950b5bp-1', '-0x1.55645c0b23123p-4'],
            ['0x1.d2400bbefdcfbp-6', '0x1.ad8a71e189778p-4', '0x1.3f9ed0d51be19p-5', '-0x1.1e9f6bf4a3fb8p-5'],
        ],
    },
    {
        'q': [
            ['0x1.c48133a2fe3d8p-1', '0x1.686d9c966f223p-2', '0x1.d0a223bf820b1p-3', '0x1.608fedfe82315p-3'],
        ],
        'mean': [
            ['-0x1.e6fa3d064f0f7p-3', '-0x1.897dd8211c255p-9', '0x1.410d73e971f69p-6', '-0x1.b8ae4a500b548p-4'],
        ],
        'x_sq': [
            ['0x1.686d9c966f224p-2', '0x1.d0a223bf820b1p-3', '0x1.608fedfe82314p-3', '0x1.e706aa27cbefdp-4'],
        ],
        'grad_h_sq': [
            ['0x1.61376410eb66dp+1', '0x1.6b927f2668c0dp+2', '0x1.eff6d29820b90p+2', '0x1.3b00704e40c67p+3'],
        ],
        'grad_w_fro': [
            ['0x1.49875993ef487p+3', '0x1.2c0f381210b10p+3', '0x1.1d9593eb8129fp+3', '0x1.1c55133b84659p+3'],
        ],
        'h_mean': [
            ['-0x1.6ba255e76c5d4p-2', '-0x1.3b9e8c837f455p-7', '0x1.aa2e3c06eb688p-6', '-0x1.02e9dfd578ce3p-3'],
        ],
    },
    {
        'q': [
            ['0x1.f7199be32c8f3p-1', '0x1.fdac78e4cab75p-1', '0x1.254e44583b701p+0'],
        ],
        'mean': [
            ['0x1.d6bfca77305c3p-3', '0x1.6f1bb81651770p-2', '0x1.8fb61a4f422b8p-2'],
        ],
        'x_sq': [
            ['0x1.561d1ed6b36c0p-1', '0x1.ac6dcfa371750p-1', '0x1.02f576455c4dbp+0'],
        ],
        'grad_h_sq': [
            ['0x1.284874616c28dp+2', '0x1.0e1981390e595p+2', '0x1.2f72da3d476abp+2'],
        ],
        'grad_w_fro': [
            ['0x1.c6131ef22d9e4p+3', '0x1.8b28e4f0a0a6bp+3', '0x1.b1e5ff80999c7p+3'],
        ],
        'h_mean': [
            ['0x1.64c2f0511b9a3p-4', '0x1.1947b9f1d6627p-2', '0x1.3816508e9fb97p-2'],
        ],
    },
    {
        'q': [
            ['0x1.cb780cd220255p-1', '0x1.6432d42ae1aabp-2', '0x1.a18ad49285e00p-3'],
        ],
        'mean': [
            ['0x1.6da18c9c80000p-2', '0x1.0cf792c700000p-2', '0x1.4d766476c0000p-3'],
        ],
        'x_sq': [
            ['0x1.50a953eac1a00p-2', '0x1.adeb9fe5d8000p-3', '0x1.52ab3f9756c00p-4'],
        ],
        'grad_h_sq': [
            ['0x1.d25ec4009d555p+0', '0x1.0ce0329947000p+1', '0x1.1be48e479d555p+2'],
        ],
        'grad_w_fro': [
            ['0x1.9253f4d5abf41p+3', '0x1.79a5b18b6e0cfp+3', '0x1.cd70a8f60c4fdp+3'],
        ],
        'h_mean': [
            ['0x1.7c25d32555555p-7', '0x1.43fba089aaaabp-4', '-0x1.d97406c000000p-10'],
        ],
    },
    {
        'q': [
            ['0x1.e7087d365391bp-2', '0x1.d61110dec04d0p-4', '0x1.9818f5eb8001bp-5'],
        ],
        'mean': [
            ['0x1.585c4c7379debp-4', '0x1.399e9a5d318f9p-4', '0x1.896b9d5bf4091p-7'],
        ],
        'x_sq': [
            ['0x1.3a42c165a3fb3p-4', '0x1.489c7b4e34cf3p-5', '0x1.bcc25e09d5263p-7'],
        ],
        'grad_h_sq': [
            ['0x1.1773150010ea1p+0', '0x1.b8864a48db1b0p+0', '0x1.4df89f9fc68c2p+1'],
        ],
        'grad_w_fro': [
            ['0x1.bdb1c76507f4fp+1', '0x1.8aaaffdae76cap+0', '0x1.46360f4f9bb93p+0'],
        ],
        'h_mean': [
            ['-0x1.26855bd22d5f4p-3', '0x1.0eef23efe5379p-4', '-0x1.eba9425528f3fp-7'],
        ],
    },
]


@pytest.mark.parametrize("index", range(len(_REGRESSION_CASES)))
@pytest.mark.parametrize("explicit", [False, True])
def test_bit_identical_to_before(index, explicit):
    case = dict(_REGRESSION_CASES[index])
    act = case.pop("act")
    if explicit:  # the new arguments at their neutral values change nothing
        case.update(bias_var=0.0, input_correlation=None)
    tr = simulate(act, backend="numpy", **case)
    for k in RECORDS:
        expected = np.array([[float.fromhex(v) for v in row] for row in _REGRESSION_RECORDS[index][k]])
        assert np.array_equal(tr.record(k), expected, equal_nan=True), k
    assert tr.c is None and "bias_var" not in tr.params
