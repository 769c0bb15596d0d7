"""Scalar math helpers for generated kernels: SBML semantics with IEEE results, no exceptions."""

import math

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def _sign(x):
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)


@njit(cache=True, error_model="numpy")
def _ln(x):
    return math.log(x) if x > 0.0 else (-math.inf if x == 0.0 else math.nan)


@njit(cache=True, error_model="numpy")
def _log10(x):
    return math.log10(x) if x > 0.0 else (-math.inf if x == 0.0 else math.nan)


@njit(cache=True, error_model="numpy")
def _sqrt(x):
    return math.sqrt(x) if x >= 0.0 else math.nan


@njit(cache=True, error_model="numpy")
def _asin(x):
    return math.asin(x) if -1.0 <= x <= 1.0 else math.nan


@njit(cache=True, error_model="numpy")
def _acos(x):
    return math.acos(x) if -1.0 <= x <= 1.0 else math.nan


@njit(cache=True, error_model="numpy")
def _acosh(x):
    return math.acosh(x) if x >= 1.0 else math.nan


@njit(cache=True, error_model="numpy")
def _atanh(x):
    if -1.0 < x < 1.0:
        return math.atanh(x)
    return math.copysign(math.inf, x) if abs(x) == 1.0 else math.nan



@njit(cache=True, error_model="numpy")
def _quotient(a, b):
    q = a / b
    return np.floor(q) if q >= 0.0 else np.ceil(q)


@njit(cache=True, error_model="numpy")
def _rem(a, b):
    return np.fmod(a, b)
