"""``Module``: the base class of every layer and model.

A Module owns ordered dictionaries of parameters, buffers and child modules, filled in by plain
attribute assignment (``self.fc = Linear(3, 4)``, ``self.w = Parameter(...)``) or by
``register_parameter`` / ``register_buffer`` / ``add_module``. The API follows ``torch.nn.Module``;
``summary()`` is the extra that PyTorch lacks.
"""

from __future__ import annotations

import sys
from collections import OrderedDict, namedtuple
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

import numpy as np

from ..tensor import Tensor
from .parameter import Parameter

__all__ = ["Module", "RemovableHandle", "ModelSummary"]


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class ModelSummary(NamedTuple):
    """What ``Module.summary`` returns: parameter totals (shared parameters counted once)."""

    total_params: int
    trainable_params: int
    non_trainable_params: int


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: Dict[int, Callable]) -> None:
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _dtype_of(dtype: Any) -> np.dtype:
    from ..dtypes import as_dtype

    return as_dtype(dtype)


def _is_floating(arr: Any) -> bool:
    return np.dtype(arr.dtype).kind in "fc"


class Module:
    """Base class for all neural-network modules. Subclasses implement ``forward``."""

    training: bool
    _version: int = 1

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())

    # ------------------------------------------------------------------ forward / call
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing a "forward" method')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, args) -> None | new_args`` runs before ``forward``."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, args, output) -> None | new_output`` runs after ``forward``."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # ------------------------------------------------------------------ registration
    def _check_name(self, kind: str, name: Any) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got {name!r}')

    def register_parameter(self, name: str, param: Optional[Parameter]) -> None:
        """Add a parameter (or ``None``, a declared-but-absent parameter such as ``bias=False``)."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name("parameter", name)
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute {name!r} already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign {type(param).__name__} object to parameter {name!r} "
                "(axonal.nn.Parameter or None required)"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Optional[Tensor], persistent: bool = True) -> None:
        """Add a buffer: state saved in ``state_dict`` (if persistent) but not trained."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name("buffer", name)
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute {name!r} already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign {type(tensor).__name__} object to buffer {name!r} "
                "(axonal.Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Optional[Module]) -> None:
        """Add a child module (``None`` keeps the slot)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name("module", name)
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute {name!r} already exists")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._remove_from(name, self.__dict__, self._buffers, self._modules)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} "
                    "(axonal.nn.Parameter or None expected)"
                )
            params[name] = None
        elif isinstance(value, Module):
            modules = self.__dict__.get("_modules")
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._remove_from(name, self.__dict__, self._parameters, self._buffers)
            modules[name] = value
        elif self.__dict__.get("_modules") is not None and name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module {name!r} "
                    "(axonal.nn.Module or None expected)"
                )
            self._modules[name] = None
        elif self.__dict__.get("_buffers") is not None and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign {type(value).__name__} as buffer {name!r} "
                    "(axonal.Tensor or None expected)"
                )
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    @staticmethod
    def _remove_from(name: str, *dicts: Any) -> None:
        for d in dicts:
            if name in d:
                del d[name]

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            entries = d.get(store)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(store)
            if entries is not None and name in entries:
                del entries[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> List[str]:
        keys = list(super().__dir__())
        keys += list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(set(keys))

    # ------------------------------------------------------------------ traversal
    def _named_members(
        self, get_members: Callable, prefix: str = "", recurse: bool = True, remove_duplicate=True
    ) -> Iterator[Tuple[str, Any]]:
        seen: Set[int] = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in get_members(module):
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in seen:
                        continue
                    seen.add(id(value))
                yield (module_prefix + "." + name if module_prefix else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[Tuple[str, Parameter]]:
        """``(qualified_name, parameter)`` pairs; a shared parameter is yielded once."""
        return self._named_members(
            lambda m: m._parameters.items(), prefix, recurse, remove_duplicate
        )

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[Tuple[str, Tensor]]:
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self) -> Iterator[Tuple[str, Module]]:
        seen: Set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_modules(
        self, memo: Optional[Set[int]] = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[Tuple[str, Module]]:
        """Every module in the tree, this one first (name ``prefix``), depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + "." + name if prefix else name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def get_submodule(self, target: str) -> Module:
        """The module at dotted path ``target`` (``""`` is this module)."""
        if target == "":
            return self
        mod: Module = self
        for item in target.split("."):
            if not isinstance(mod, Module) or item not in mod._modules:
                raise AttributeError(f"{type(mod).__name__} has no submodule {item!r} ({target})")
            mod = mod._modules[item]
        return mod

    def get_parameter(self, target: str) -> Parameter:
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if name not in mod._parameters or mod._parameters[name] is None:
            raise AttributeError(f"{type(mod).__name__} has no parameter {name!r} ({target})")
        return mod._parameters[name]

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of scalar parameters (shared ones counted once)."""
        return int(
            sum(
                int(np.prod(p.shape))
                for p in self.parameters()
                if p.requires_grad or not trainable_only
            )
        )

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's ``.grad``: to ``None`` (default) or to zeros in place."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g = p.grad
                if g.grad_fn is not None:
                    g = g.detach()
                    p.grad = g
                g._data[...] = 0
                g._vc[0] += 1

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first) and then on this module."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ device / dtype
    def _apply(self, fn: Callable[[Tensor], Tensor]) -> Module:
        """Replace the storage of every parameter, gradient and buffer with ``fn(tensor)``.

        Parameters keep their identity (so an optimizer built earlier still sees them).
        """
        for module in self.children():
            module._apply(fn)
        for p in self._parameters.values():
            if p is None:
                continue
            _set_storage(p, fn(p))
            if p.grad is not None:
                _set_storage(p.grad, fn(p.grad))
        for name, b in self._buffers.items():
            if b is not None:
                self._buffers[name] = fn(b)
        return self

    def to(self, device: Any = None, dtype: Any = None) -> Module:
        """Move parameters and buffers to ``device`` and/or cast floating ones to ``dtype``.

        ``to("cuda")``, ``to(dtype=axonal.float64)``, ``to("cpu", axonal.float32)`` and
        ``to(axonal.float64)`` all work. Integer buffers keep their dtype.
        """
        if dtype is None and device is not None and not _looks_like_device(device):
            device, dtype = None, device
        if dtype is not None:
            dtype = _dtype_of(dtype)
            if dtype.kind not in "fc":
                raise TypeError(f"Module.to only accepts floating point dtypes, got {dtype}")

        if device is not None:
            from ..tensor import device as _device

            target = _device(str(device))
            if target.type == "cuda":
                from ..ops.creation import cupy_module

                cupy_module()  # fails early, with the reason, where CUDA is unusable

        def convert(t: Tensor) -> Tensor:
            out = t
            if dtype is not None and _is_floating(t) and np.dtype(t.dtype) != dtype:
                out = _cast(out, dtype)
            if device is not None and out.device != target:
                out = _move(out, target)
            return out

        return self._apply(convert)

    def float(self) -> Module:
        return self.to(dtype=np.float32)

    def double(self) -> Module:
        return self.to(dtype=np.float64)

    def cpu(self) -> Module:
        return self.to(device="cpu")

    def cuda(self, device: Any = None) -> Module:
        return self.to(device="cuda" if device is None else f"cuda:{device}")

    # ------------------------------------------------------------------ state dict
    def state_dict(
        self, destination: Optional[Dict[str, Tensor]] = None, prefix: str = "", keep_vars=False
    ) -> Dict[str, Tensor]:
        """An ordered ``{qualified_name: tensor}`` of parameters and persistent buffers.

        The tensors are detached and share storage with the module (``keep_vars=True`` returns the
        Parameters themselves).
        """
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True):
        """Copy ``state_dict`` into this module's parameters and buffers (in place).

        Returns ``(missing_keys, unexpected_keys)``. With ``strict=True`` (default) any missing or
        unexpected key raises ``RuntimeError`` listing them; a shape mismatch always raises.
        Values may be Tensors or NumPy arrays; they are cast to each parameter's dtype.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict: expected a mapping of names to tensors, "
                f"got {type(state_dict).__name__}"
            )
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mis_shaped = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            arr = value._data if isinstance(value, Tensor) else value
            arr = _host_array(arr)
            if tuple(arr.shape) != tuple(target.shape):
                mis_shaped.append(
                    f"{key}: checkpoint shape {tuple(arr.shape)} != "
                    f"model shape {tuple(target.shape)}"
                )
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(repr(k) for k in missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(repr(k) for k in unexpected))
        if mis_shaped:
            problems.append("size mismatch: " + "; ".join(mis_shaped))
        if problems:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n  "
                + "\n  ".join(problems)
            )
        for key, target in own.items():
            if key in state_dict:
                value = state_dict[key]
                arr = value._data if isinstance(value, Tensor) else value
                _copy_into(target, arr)
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        """One line of the module's settings, shown in ``repr`` (override in subclasses)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = []
        for name, module in self._modules.items():
            mod_str = _addindent(repr(module), 2)
            child_lines.append(f"({name}): {mod_str}")
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    # ------------------------------------------------------------------ summary
    def summary(
        self,
        input_shape: Union[Sequence[int], Sequence[Sequence[int]]],
        dtype: Any = None,
        batch_size: int = 2,
        file: Any = None,
    ) -> ModelSummary:
        """Print a table of the layers and return the parameter totals.

        ``input_shape`` is the shape of ONE sample (no batch dimension), e.g. ``(3,)`` for an MLP
        on 3 features or ``(1, 28, 28)`` for an image; pass a list of shapes for several inputs.
        A dummy batch of ``batch_size`` zeros (dtype: ``dtype``, else the first floating
        parameter's, else float32) runs through ``forward`` in eval mode without autograd. Each
        row is a leaf module (or a module owning parameters directly): name, type, output shape
        with ``N`` as the batch dimension, and the parameters the row owns (shared ones once).
        """
        from .. import no_grad, zeros

        shapes = _normalize_shapes(input_shape)
        if dtype is None:
            floats = [p for p in self.parameters() if _is_floating(p)]
            dtype = floats[0].dtype if floats else np.float32
        device = None
        for p in self.parameters():
            device = p.device
            break
        inputs = []
        for s in shapes:
            x = zeros((batch_size, *s), dtype=dtype)
            if device is not None and str(device) != "cpu":
                x = _move(x, device)
            inputs.append(x)

        rows: List[Tuple[str, str, str, int]] = []
        handles = []
        counted: Set[int] = set()

        def make_hook(name: str) -> Callable:
            def hook(module: Module, args: Any, output: Any) -> None:
                n = 0
                for p in module._parameters.values():
                    if p is not None and id(p) not in counted:
                        counted.add(id(p))
                        n += int(np.prod(p.shape))
                rows.append((name, type(module).__name__, _shape_str(output, batch_size), n))

            return hook

        for name, module in self.named_modules():
            has_children = any(True for _ in module.children())
            owns_params = any(p is not None for p in module._parameters.values())
            if module is self and has_children and not owns_params:
                continue
            if not has_children or owns_params:
                handles.append(module.register_forward_hook(make_hook(name or type(self).__name__)))

        was_training = self.training
        try:
            self.eval()
            with no_grad():
                self(*inputs)
        finally:
            for h in handles:
                h.remove()
            self.train(was_training)

        total = trainable = 0
        for p in self.parameters():
            n = int(np.prod(p.shape))
            total += n
            if p.requires_grad:
                trainable += n
        result = ModelSummary(total, trainable, total - trainable)

        header = ("Layer", "Type", "Output shape", "Param #")
        body = [(r[0], r[1], r[2], f"{r[3]:,}") for r in rows]
        widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(4)]
        width = sum(widths) + 3 * 3
        out = file if file is not None else sys.stdout
        fmt = "{{:<{}}}   {{:<{}}}   {{:<{}}}   {{:>{}}}".format(*widths)
        in_str = ", ".join(_shape_str_tuple((batch_size, *s), batch_size) for s in shapes)
        lines = [
            f"{type(self).__name__} summary (input {in_str}, dtype {np.dtype(dtype)})",
            "=" * width,
            fmt.format(*header),
            "-" * width,
        ]
        lines += [fmt.format(*row) for row in body]
        lines += [
            "=" * width,
            f"Total params: {total:,}",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}",
            "=" * width,
        ]
        print("\n".join(lines), file=out)
        return result


# ---------------------------------------------------------------------- helpers


def _looks_like_device(x: Any) -> bool:
    if isinstance(x, str):
        return x.split(":")[0] in ("cpu", "cuda")
    return type(x).__name__.lower() == "device" or hasattr(x, "type") and not hasattr(x, "kind")


def _host_array(arr: Any) -> np.ndarray:
    if isinstance(arr, np.ndarray):
        return arr
    if hasattr(arr, "get"):  # cupy
        return arr
    return np.asarray(arr)


def _set_storage(t: Tensor, new: Tensor) -> None:
    """Make ``t`` use ``new``'s storage (and device) while keeping ``t``'s identity."""
    if new is t:
        return
    t.data = new


def _cast(t: Tensor, dtype: np.dtype) -> Tensor:
    if hasattr(t, "to"):
        try:
            return t.detach().to(dtype=dtype)
        except TypeError:
            pass
    from .. import from_numpy

    return from_numpy(t._data.astype(dtype))


def _move(t: Tensor, device: Any) -> Tensor:
    if not hasattr(t, "to"):
        raise RuntimeError(f"Module.to: the Tensor class cannot move data to {device!r}")
    return t.detach().to(device)


def _copy_into(target: Tensor, arr: Any) -> None:
    data = target._data
    if type(arr) is type(data) or isinstance(data, np.ndarray) and isinstance(arr, np.ndarray):
        data[...] = arr
    elif isinstance(data, np.ndarray):  # source on another device
        data[...] = arr.get() if hasattr(arr, "get") else np.asarray(arr)
    else:  # target on cuda, source on host
        mod = sys.modules[type(data).__module__.split(".")[0]]
        data[...] = mod.asarray(arr)
    target._vc[0] += 1


def _normalize_shapes(input_shape: Any) -> List[Tuple[int, ...]]:
    if isinstance(input_shape, int):
        return [(input_shape,)]
    shape = list(input_shape)
    if shape and all(isinstance(s, (tuple, list)) for s in shape):
        return [tuple(int(v) for v in s) for s in shape]
    if all(isinstance(s, (int, np.integer)) for s in shape):
        return [tuple(int(v) for v in shape)]
    raise TypeError(
        "summary: input_shape must be a tuple of ints or a list of such tuples, "
        f"got {input_shape!r}"
    )


def _shape_str_tuple(shape: Sequence[int], batch: int) -> str:
    parts = [str(s) for s in shape]
    if parts and int(shape[0]) == batch:
        parts[0] = "N"
    return "(" + ", ".join(parts) + (",)" if len(parts) == 1 else ")")


def _shape_str(output: Any, batch: int) -> str:
    if isinstance(output, Tensor):
        return _shape_str_tuple(output.shape, batch)
    if isinstance(output, (tuple, list)):
        return "[" + ", ".join(_shape_str(o, batch) for o in output) + "]"
    if isinstance(output, dict):
        return "{" + ", ".join(f"{k}: {_shape_str(v, batch)}" for k, v in output.items()) + "}"
    return type(output).__name__
