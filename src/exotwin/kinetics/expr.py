"""Expression trees for SBML math: conversion from libsbml, differentiation, code generation.

An expression is a nested tuple whose first item names the operation:

==============  ====================================================================
``("n", v)``    number ``v`` (float)
``("b", v)``    boolean constant
``("s", id)``   SBML symbol ``id`` (resolved by the caller at code generation)
``("t",)``      the csymbol time
``("+", ...)``  n-ary sum; ``("*", ...)`` n-ary product
``("-", a, b)`` difference; ``("neg", a)`` negation; ``("/", a, b)``; ``("^", a, b)``
``("f", name, args...)``  a MathML function (``exp``, ``ln``, ``sin``, ``max``, ...)
``("pw", pieces, otherwise)``  piecewise: ``pieces`` is a tuple of ``(value, condition)``,
                ``otherwise`` an expression or ``None``
``(rel, ...)``  relations ``eq neq lt gt leq geq`` (n-ary, chained)
``(logic, ...)`` ``and or xor not implies``
==============  ====================================================================

Trees are immutable, hashable and cheap to build, so the differentiator can return
new trees freely. Code generation targets numba-compilable Python source.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import libsbml

from exotwin.errors import ExotwinError

Expr = tuple

ZERO: Expr = ("n", 0.0)
ONE: Expr = ("n", 1.0)

RELATIONS = {"eq": "==", "neq": "!=", "lt": "<", "gt": ">", "leq": "<=", "geq": ">="}
LOGICALS = ("and", "or", "xor", "not", "implies")

# libsbml function node type -> our function name (unary unless noted)
_FUNCTIONS = {
    "AST_FUNCTION_ABS": "abs",
    "AST_FUNCTION_ARCCOS": "arccos",
    "AST_FUNCTION_ARCCOSH": "arccosh",
    "AST_FUNCTION_ARCCOT": "arccot",
    "AST_FUNCTION_ARCCOTH": "arccoth",
    "AST_FUNCTION_ARCCSC": "arccsc",
    "AST_FUNCTION_ARCCSCH": "arccsch",
    "AST_FUNCTION_ARCSEC": "arcsec",
    "AST_FUNCTION_ARCSECH": "arcsech",
    "AST_FUNCTION_ARCSIN": "arcsin",
    "AST_FUNCTION_ARCSINH": "arcsinh",
    "AST_FUNCTION_ARCTAN": "arctan",
    "AST_FUNCTION_ARCTANH": "arctanh",
    "AST_FUNCTION_CEILING": "ceiling",
    "AST_FUNCTION_COS": "cos",
    "AST_FUNCTION_COSH": "cosh",
    "AST_FUNCTION_COT": "cot",
    "AST_FUNCTION_COTH": "coth",
    "AST_FUNCTION_CSC": "csc",
    "AST_FUNCTION_CSCH": "csch",
    "AST_FUNCTION_EXP": "exp",
    "AST_FUNCTION_FACTORIAL": "factorial",
    "AST_FUNCTION_FLOOR": "floor",
    "AST_FUNCTION_LN": "ln",
    "AST_FUNCTION_SEC": "sec",
    "AST_FUNCTION_SECH": "sech",
    "AST_FUNCTION_SIN": "sin",
    "AST_FUNCTION_SINH": "sinh",
    "AST_FUNCTION_TAN": "tan",
    "AST_FUNCTION_TANH": "tanh",
    "AST_FUNCTION_MAX": "max",
    "AST_FUNCTION_MIN": "min",
    "AST_FUNCTION_QUOTIENT": "quotient",
    "AST_FUNCTION_REM": "rem",
}
_RELATIONS = {
    "AST_RELATIONAL_EQ": "eq",
    "AST_RELATIONAL_NEQ": "neq",
    "AST_RELATIONAL_LT": "lt",
    "AST_RELATIONAL_GT": "gt",
    "AST_RELATIONAL_LEQ": "leq",
    "AST_RELATIONAL_GEQ": "geq",
}
_LOGICALS = {
    "AST_LOGICAL_AND": "and",
    "AST_LOGICAL_OR": "or",
    "AST_LOGICAL_XOR": "xor",
    "AST_LOGICAL_NOT": "not",
    "AST_LOGICAL_IMPLIES": "implies",
}
_UNSUPPORTED = {
    "AST_FUNCTION_DELAY": "delay",
    "AST_FUNCTION_RATE_OF": "rateOf",
    "AST_LAMBDA": "lambda",
    "AST_FUNCTION": "function call",
}


def _table(names: dict[str, str]) -> dict[int, str]:
    return {getattr(libsbml, k): v for k, v in names.items() if hasattr(libsbml, k)}


_FUNC_BY_TYPE = _table(_FUNCTIONS)
_REL_BY_TYPE = _table(_RELATIONS)
_LOGIC_BY_TYPE = _table(_LOGICALS)
_UNSUPPORTED_BY_TYPE = _table(_UNSUPPORTED)
AVOGADRO = 6.02214179e23  # SBML L3 csymbol avogadro value (SBML L3V1 spec, section 3.4.6)


def from_ast(node: libsbml.ASTNode, where: str) -> Expr:
    """Convert a libsbml AST into an expression tree.

    Parameters
    ----------
    node
        The libsbml ASTNode (function definitions already expanded).
    where
        Element description used in error messages, e.g. ``"reaction 'J0'"``.
    """
    if node is None:
        raise ExotwinError("has no math", field=where)
    t = node.getType()
    kids = [node.getChild(i) for i in range(node.getNumChildren())]

    def sub() -> list[Expr]:
        return [from_ast(k, where) for k in kids]

    if node.isNumber():
        return ("n", float(node.getValue()))
    if t == libsbml.AST_NAME:
        return ("s", node.getName())
    if t == libsbml.AST_NAME_TIME:
        return ("t",)
    if t == libsbml.AST_NAME_AVOGADRO:
        return ("n", AVOGADRO)
    if t == libsbml.AST_CONSTANT_E:
        return ("n", math.e)
    if t == libsbml.AST_CONSTANT_PI:
        return ("n", math.pi)
    if t == libsbml.AST_CONSTANT_TRUE:
        return ("b", True)
    if t == libsbml.AST_CONSTANT_FALSE:
        return ("b", False)
    if t == libsbml.AST_PLUS:
        args = sub()
        return ZERO if not args else args[0] if len(args) == 1 else ("+", *args)
    if t == libsbml.AST_TIMES:
        args = sub()
        return ONE if not args else args[0] if len(args) == 1 else ("*", *args)
    if t == libsbml.AST_MINUS:
        args = sub()
        if len(args) == 1:
            return ("neg", args[0])
        if len(args) == 2:
            return ("-", args[0], args[1])
        raise ExotwinError("minus needs one or two arguments", field=where)
    if t == libsbml.AST_DIVIDE:
        a, b = _arity(sub(), 2, "divide", where)
        return ("/", a, b)
    if t in (libsbml.AST_POWER, libsbml.AST_FUNCTION_POWER):
        a, b = _arity(sub(), 2, "power", where)
        return ("^", a, b)
    if t == libsbml.AST_FUNCTION_ROOT:
        args = sub()
        if len(args) == 1:
            return ("f", "sqrt", args[0])
        degree, x = _arity(args, 2, "root", where)
        if degree == ("n", 2.0):
            return ("f", "sqrt", x)
        return ("^", x, ("/", ONE, degree))
    if t == libsbml.AST_FUNCTION_LOG:
        args = sub()
        if len(args) == 1:
            return ("f", "log10", args[0])
        base, x = _arity(args, 2, "log", where)
        if base == ("n", 10.0):
            return ("f", "log10", x)
        return ("/", ("f", "ln", x), ("f", "ln", base))
    if t == libsbml.AST_FUNCTION_PIECEWISE:
        args = sub()
        pieces = tuple((args[i], args[i + 1]) for i in range(0, len(args) - 1, 2))
        otherwise = args[-1] if len(args) % 2 == 1 else None
        return ("pw", pieces, otherwise)
    if t in _FUNC_BY_TYPE:
        name = _FUNC_BY_TYPE[t]
        args = sub()
        if name in ("max", "min"):
            if not args:
                raise ExotwinError(f"{name} needs at least one argument", field=where)
            return args[0] if len(args) == 1 else ("f", name, *args)
        if name in ("quotient", "rem"):
            return ("f", name, *_arity(args, 2, name, where))
        return ("f", name, *_arity(args, 1, name, where))
    if t in _REL_BY_TYPE:
        return (_REL_BY_TYPE[t], *sub())
    if t in _LOGIC_BY_TYPE:
        return (_LOGIC_BY_TYPE[t], *sub())
    if t in _UNSUPPORTED_BY_TYPE:
        what = _UNSUPPORTED_BY_TYPE[t]
        if t == libsbml.AST_FUNCTION:
            what = f"call of undefined function '{node.getName()}'"
        raise ExotwinError(f"unsupported SBML math construct: {what}", field=where)
    raise ExotwinError(
        f"unsupported SBML math construct: {node.getName() or libsbml.formulaToL3String(node)}",
        field=where,
    )


def _arity(args: list[Expr], n: int, name: str, where: str) -> list[Expr]:
    if len(args) != n:
        raise ExotwinError(f"{name} needs {n} argument(s), got {len(args)}", field=where)
    return args


# ----------------------------------------------------------------------------- traversal


def symbols(e: Expr) -> set[str]:
    """Return the SBML ids an expression refers to."""
    out: set[str] = set()
    _collect(e, out)
    return out


def _collect(e: Expr, out: set[str]) -> None:
    op = e[0]
    if op == "s":
        out.add(e[1])
    elif op in ("n", "b", "t"):
        return
    elif op == "f":
        for a in e[2:]:
            _collect(a, out)
    elif op == "pw":
        for v, c in e[1]:
            _collect(v, out)
            _collect(c, out)
        if e[2] is not None:
            _collect(e[2], out)
    else:
        for a in e[1:]:
            _collect(a, out)


def uses_time(e: Expr) -> bool:
    """Whether an expression refers to the csymbol time directly."""
    op = e[0]
    if op == "t":
        return True
    if op in ("n", "b", "s"):
        return False
    if op == "f":
        return any(uses_time(a) for a in e[2:])
    if op == "pw":
        return any(uses_time(v) or uses_time(c) for v, c in e[1]) or (
            e[2] is not None and uses_time(e[2])
        )
    return any(uses_time(a) for a in e[1:])


def substitute(e: Expr, mapping: Callable[[str], Expr | None]) -> Expr:
    """Replace symbols for which ``mapping`` returns an expression."""
    op = e[0]
    if op == "s":
        r = mapping(e[1])
        return e if r is None else r
    if op in ("n", "b", "t"):
        return e
    if op == "f":
        return ("f", e[1], *(substitute(a, mapping) for a in e[2:]))
    if op == "pw":
        pieces = tuple((substitute(v, mapping), substitute(c, mapping)) for v, c in e[1])
        other = None if e[2] is None else substitute(e[2], mapping)
        return ("pw", pieces, other)
    return (op, *(substitute(a, mapping) for a in e[1:]))


# ----------------------------------------------------------------------------- algebra


def _is_num(e: Expr, v: float | None = None) -> bool:
    return e[0] == "n" and (v is None or e[1] == v)


def add(*terms: Expr) -> Expr:
    """Sum with zeros dropped and nested sums flattened."""
    flat: list[Expr] = []
    const = 0.0
    for a in terms:
        for b in a[1:] if a[0] == "+" else (a,):
            if b[0] == "n":
                const += b[1]
            else:
                flat.append(b)
    if const != 0.0 or not flat:
        flat.append(("n", const))
    return flat[0] if len(flat) == 1 else ("+", *flat)


def mul(*factors: Expr) -> Expr:
    """Product with ones dropped, zero absorbing and nested products flattened."""
    flat: list[Expr] = []
    const = 1.0
    for a in factors:
        for b in a[1:] if a[0] == "*" else (a,):
            if b[0] == "n":
                const *= b[1]
            else:
                flat.append(b)
    if const == 0.0 and all(_finite_everywhere(f) for f in flat):
        return ZERO
    if const != 1.0 or not flat:
        flat.insert(0, ("n", const))
    return flat[0] if len(flat) == 1 else ("*", *flat)


def _finite_everywhere(e: Expr) -> bool:
    # 0 * f is 0 unless f can be inf/nan; we keep IEEE semantics only where f is a number.
    return e[0] != "n" or math.isfinite(e[1])


def sub(a: Expr, b: Expr) -> Expr:
    """Difference ``a - b`` with zeros dropped."""
    if _is_num(b, 0.0):
        return a
    if _is_num(a, 0.0):
        return neg(b)
    if a[0] == "n" and b[0] == "n":
        return ("n", a[1] - b[1])
    return ("-", a, b)


def neg(a: Expr) -> Expr:
    """Negation with constant folding."""
    if a[0] == "n":
        return ("n", -a[1])
    if a[0] == "neg":
        return a[1]
    return ("neg", a)


def div(a: Expr, b: Expr) -> Expr:
    """Quotient ``a / b`` with trivial cases folded."""
    if _is_num(b, 1.0):
        return a
    if _is_num(a, 0.0) and b[0] != "n":
        return ZERO
    return ("/", a, b)


def power(a: Expr, b: Expr) -> Expr:
    """Power ``a ^ b`` with trivial exponents folded."""
    if _is_num(b, 1.0):
        return a
    if _is_num(b, 0.0):
        return ONE
    return ("^", a, b)


# ----------------------------------------------------------------------------- derivatives

Derivative = Callable[[str], Expr]


def diff(e: Expr, dsym: Derivative, dtime: Expr) -> Expr:
    """Differentiate ``e`` with respect to one variable.

    Parameters
    ----------
    e
        Expression to differentiate.
    dsym
        Returns the derivative of a symbol's value with respect to the variable
        (usually ``ONE``, ``ZERO`` or a reference to a precomputed temporary).
    dtime
        Derivative of the time symbol (``ONE`` when differentiating in time, else ``ZERO``).

    Returns
    -------
    Expr
        The derivative; piecewise conditions are kept, step functions differentiate to 0.
    """
    op = e[0]
    if op in ("n", "b"):
        return ZERO
    if op == "s":
        return dsym(e[1])
    if op == "t":
        return dtime
    if op in RELATIONS or op in LOGICALS:
        return ZERO

    def d(x: Expr) -> Expr:
        return diff(x, dsym, dtime)

    if op == "+":
        return add(*(d(a) for a in e[1:]))
    if op == "-":
        return sub(d(e[1]), d(e[2]))
    if op == "neg":
        return neg(d(e[1]))
    if op == "*":
        terms = []
        args = e[1:]
        for i, a in enumerate(args):
            da = d(a)
            if not _is_num(da, 0.0):
                terms.append(mul(*args[:i], da, *args[i + 1 :]))
        return add(*terms) if terms else ZERO
    if op == "/":
        a, b = e[1], e[2]
        da, db = d(a), d(b)
        if _is_num(db, 0.0):
            return div(da, b)
        return div(sub(mul(da, b), mul(a, db)), power(b, ("n", 2.0)))
    if op == "^":
        a, b = e[1], e[2]
        da, db = d(a), d(b)
        if _is_num(db, 0.0):
            if _is_num(da, 0.0):
                return ZERO
            return mul(b, power(a, sub(b, ONE)), da)
        # general: a^b * (db*ln(a) + b*da/a)
        return mul(e, add(mul(db, ("f", "ln", a)), div(mul(b, da), a)))
    if op == "pw":
        pieces = tuple((d(v), c) for v, c in e[1])
        other = None if e[2] is None else d(e[2])
        if all(_is_num(v, 0.0) for v, _ in pieces) and (other is None or _is_num(other, 0.0)):
            return ZERO
        return ("pw", pieces, other)
    if op == "f":
        return _diff_function(e, d)
    raise AssertionError(f"unknown expression {op}")


def _diff_function(e: Expr, d: Callable[[Expr], Expr]) -> Expr:
    name, args = e[1], e[2:]
    if name in ("floor", "ceiling", "factorial", "quotient"):
        return ZERO  # piecewise constant (factorial: only defined on integers in SBML)
    if name in ("max", "min"):
        # derivative of the selected argument, chosen as the value is
        (first, *rest) = args
        if len(rest) > 1:
            return d(("f", name, first, ("f", name, *rest)))
        other = rest[0]
        cond = ("geq", first, other) if name == "max" else ("leq", first, other)
        da, db = d(first), d(other)
        if _is_num(da, 0.0) and _is_num(db, 0.0):
            return ZERO
        return ("pw", ((da, cond),), db)
    if name == "rem":
        a, b = args
        return sub(d(a), mul(("f", "quotient", a, b), d(b)))
    x = args[0]
    dx = d(x)
    if _is_num(dx, 0.0):
        return ZERO
    inner = _DERIVATIVE_RULES[name](x, e)
    return mul(inner, dx)


def _sq(x: Expr) -> Expr:
    return power(x, ("n", 2.0))


_DERIVATIVE_RULES: dict[str, Callable[[Expr, Expr], Expr]] = {
    "abs": lambda x, e: ("f", "sign", x),
    "exp": lambda x, e: e,
    "ln": lambda x, e: div(ONE, x),
    "log10": lambda x, e: div(ONE, mul(x, ("n", math.log(10.0)))),
    "sqrt": lambda x, e: div(("n", 0.5), e),
    "sin": lambda x, e: ("f", "cos", x),
    "cos": lambda x, e: neg(("f", "sin", x)),
    "tan": lambda x, e: add(ONE, _sq(e)),
    "sec": lambda x, e: mul(e, ("f", "tan", x)),
    "csc": lambda x, e: neg(mul(e, ("f", "cot", x))),
    "cot": lambda x, e: neg(add(ONE, _sq(e))),
    "sinh": lambda x, e: ("f", "cosh", x),
    "cosh": lambda x, e: ("f", "sinh", x),
    "tanh": lambda x, e: sub(ONE, _sq(e)),
    "sech": lambda x, e: neg(mul(e, ("f", "tanh", x))),
    "csch": lambda x, e: neg(mul(e, ("f", "coth", x))),
    "coth": lambda x, e: sub(ONE, _sq(e)),
    "arcsin": lambda x, e: div(ONE, ("f", "sqrt", sub(ONE, _sq(x)))),
    "arccos": lambda x, e: neg(div(ONE, ("f", "sqrt", sub(ONE, _sq(x))))),
    "arctan": lambda x, e: div(ONE, add(ONE, _sq(x))),
    "arcsec": lambda x, e: div(ONE, mul(("f", "abs", x), ("f", "sqrt", sub(_sq(x), ONE)))),
    "arccsc": lambda x, e: neg(div(ONE, mul(("f", "abs", x), ("f", "sqrt", sub(_sq(x), ONE))))),
    "arccot": lambda x, e: neg(div(ONE, add(ONE, _sq(x)))),
    "arcsinh": lambda x, e: div(ONE, ("f", "sqrt", add(_sq(x), ONE))),
    "arccosh": lambda x, e: div(ONE, ("f", "sqrt", sub(_sq(x), ONE))),
    "arctanh": lambda x, e: div(ONE, sub(ONE, _sq(x))),
    "arcsech": lambda x, e: neg(div(ONE, mul(x, ("f", "sqrt", sub(ONE, _sq(x)))))),
    "arccsch": lambda x, e: neg(div(ONE, mul(("f", "abs", x), ("f", "sqrt", add(ONE, _sq(x)))))),
    "arccoth": lambda x, e: div(ONE, sub(ONE, _sq(x))),
}


# ----------------------------------------------------------------------------- codegen

_FUNC_CODE = {
    "abs": "abs({0})",
    "sign": "_sign({0})",
    "exp": "math.exp({0})",
    "ln": "_ln({0})",
    "log10": "_log10({0})",
    "sqrt": "_sqrt({0})",
    "sin": "math.sin({0})",
    "cos": "math.cos({0})",
    "tan": "math.tan({0})",
    "sec": "(1.0 / math.cos({0}))",
    "csc": "(1.0 / math.sin({0}))",
    "cot": "(1.0 / math.tan({0}))",
    "sinh": "math.sinh({0})",
    "cosh": "math.cosh({0})",
    "tanh": "math.tanh({0})",
    "sech": "(1.0 / math.cosh({0}))",
    "csch": "(1.0 / math.sinh({0}))",
    "coth": "(1.0 / math.tanh({0}))",
    "arcsin": "_asin({0})",
    "arccos": "_acos({0})",
    "arctan": "math.atan({0})",
    "arcsec": "_acos(1.0 / ({0}))",
    "arccsc": "_asin(1.0 / ({0}))",
    "arccot": "math.atan(1.0 / ({0}))",
    "arcsinh": "math.asinh({0})",
    "arccosh": "_acosh({0})",
    "arctanh": "_atanh({0})",
    "arcsech": "_acosh(1.0 / ({0}))",
    "arccsch": "math.asinh(1.0 / ({0}))",
    "arccoth": "_atanh(1.0 / ({0}))",
    "floor": "np.floor({0})",
    "ceiling": "np.ceil({0})",
    "factorial": "math.gamma(({0}) + 1.0)",
    "quotient": "_quotient({0}, {1})",
    "rem": "_rem({0}, {1})",
}

# Generated code imports its helpers (IEEE nan/inf instead of exceptions) from here.
HELPERS_MODULE = "exotwin.kinetics._mathfuncs"
HELPER_NAMES = ("_sign", "_ln", "_log10", "_sqrt", "_asin", "_acos", "_acosh", "_atanh",
                "_quotient", "_rem")  # fmt: skip


def to_code(e: Expr, name: Callable[[Expr], str], want: str = "num") -> str:
    """Render an expression as numba-compilable Python source.

    Parameters
    ----------
    e
        Expression.
    name
        Returns the code for a symbol or time node.
    want
        ``"num"`` for a float-valued result, ``"bool"`` for a truth value.
    """
    code, kind = _code(e, name)
    if want == kind:
        return code
    if want == "num":
        return f"(1.0 if {code} else 0.0)"
    return f"(({code}) != 0.0)"


def _num(e: Expr, name) -> str:
    return to_code(e, name, "num")


def _bool(e: Expr, name) -> str:
    return to_code(e, name, "bool")


def _code(e: Expr, name) -> tuple[str, str]:
    op = e[0]
    if op == "n":
        v = e[1]
        if math.isnan(v):
            return "math.nan", "num"
        if math.isinf(v):
            return ("math.inf" if v > 0 else "(-math.inf)"), "num"
        return repr(float(v)), "num"
    if op == "b":
        return ("True" if e[1] else "False"), "bool"
    if op in ("s", "t"):
        return name(e), "num"
    if op == "+":
        return "(" + " + ".join(_num(a, name) for a in e[1:]) + ")", "num"
    if op == "*":
        return "(" + " * ".join(_num(a, name) for a in e[1:]) + ")", "num"
    if op == "-":
        return f"({_num(e[1], name)} - {_num(e[2], name)})", "num"
    if op == "neg":
        return f"(-{_num(e[1], name)})", "num"
    if op == "/":
        return f"({_num(e[1], name)} / {_num(e[2], name)})", "num"
    if op == "^":
        base, expo = e[1], e[2]
        if expo[0] == "n" and expo[1] == 2.0:
            b = _num(base, name)
            return f"({b} * {b})" if base[0] in ("s", "n", "t") else f"({b} ** 2)", "num"
        if expo[0] == "n" and expo[1] == float(int(expo[1])) and abs(expo[1]) <= 8:
            return f"({_num(base, name)} ** {int(expo[1])}.0)", "num"
        return f"({_num(base, name)} ** {_num(expo, name)})", "num"
    if op == "f":
        fname, args = e[1], e[2:]
        if fname in ("max", "min"):
            return f"{fname}({', '.join(_num(a, name) for a in args)})", "num"
        return _FUNC_CODE[fname].format(*(_num(a, name) for a in args)), "num"
    if op == "pw":
        other = "math.nan" if e[2] is None else _num(e[2], name)
        code = other
        for v, c in reversed(e[1]):
            code = f"({_num(v, name)} if {_bool(c, name)} else {code})"
        return code, "num"
    if op in RELATIONS:
        args = [_num(a, name) for a in e[1:]]
        if len(args) < 2:
            return "True", "bool"
        sym = RELATIONS[op]
        parts = [f"({args[i]} {sym} {args[i + 1]})" for i in range(len(args) - 1)]
        return "(" + " and ".join(parts) + ")", "bool"
    if op == "and":
        if len(e) == 1:
            return "True", "bool"
        return "(" + " and ".join(_bool(a, name) for a in e[1:]) + ")", "bool"
    if op == "or":
        if len(e) == 1:
            return "False", "bool"
        return "(" + " or ".join(_bool(a, name) for a in e[1:]) + ")", "bool"
    if op == "xor":
        if len(e) == 1:
            return "False", "bool"
        terms = " + ".join(f"(1 if {_bool(a, name)} else 0)" for a in e[1:])
        return f"(({terms}) % 2 == 1)", "bool"
    if op == "not":
        return f"(not {_bool(e[1], name)})", "bool"
    if op == "implies":
        return f"((not {_bool(e[1], name)}) or {_bool(e[2], name)})", "bool"
    raise AssertionError(f"unknown expression {op}")
