"""Containers (Sequential, ModuleList, ModuleDict) and Identity, Flatten, Unflatten."""

from __future__ import annotations

import operator
from collections import OrderedDict
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence, Tuple, Union

from ..tensor import Tensor
from .module import Module

__all__ = [
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "ParameterList",
    "ParameterDict",
    "Identity",
    "Flatten",
    "Unflatten",
]


def _norm_index(kind: str, idx: Any, n: int) -> int:
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise IndexError(f"{kind}: index {idx} is out of range for length {n}")
    return idx + n if idx < 0 else idx


class Sequential(Module):
    """Modules called in order: ``Sequential(Linear(3, 4), ReLU(), Linear(4, 2))``.

    Also accepts one ``OrderedDict`` of named modules. Supports ``len``, integer and slice
    indexing (a slice is a new Sequential sharing the modules), ``append``, ``insert``, ``extend``.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                if not isinstance(module, Module):
                    raise TypeError(
                        f"Sequential: argument {i} is {type(module).__name__}, not a Module"
                    )
                self.add_module(str(i), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx: Union[int, slice]) -> Any:
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        keys = list(self._modules)
        return self._modules[keys[_norm_index("Sequential", idx, len(keys))]]

    def __setitem__(self, idx: int, module: Module) -> None:
        keys = list(self._modules)
        self.add_module(keys[_norm_index("Sequential", idx, len(keys))], module)

    def __delitem__(self, idx: Union[int, slice]) -> None:
        keys = list(self._modules)
        if isinstance(idx, slice):
            for k in keys[idx]:
                del self._modules[k]
        else:
            del self._modules[keys[_norm_index("Sequential", idx, len(keys))]]
        # renumber so that indices stay 0..n-1 (only when all names are numeric)
        items = list(self._modules.items())
        if all(k.isdigit() for k, _ in items):
            self._modules.clear()
            for i, (_, m) in enumerate(items):
                self._modules[str(i)] = m

    def _next_name(self) -> str:
        n = len(self._modules)
        while str(n) in self._modules:
            n += 1
        return str(n)

    def append(self, module: Module) -> Sequential:
        self.add_module(self._next_name(), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.insert: {type(module).__name__} is not a Module")
        mods = list(self._modules.values())
        n = len(mods)
        if not -n <= index <= n:
            raise IndexError(f"Sequential.insert: index {index} is out of range for length {n}")
        if index < 0:
            index += n
        mods.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(mods):
            self._modules[str(i)] = m
        return self

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x


class ModuleList(Module):
    """A list of modules, registered so that their parameters are found. Has no ``forward``."""

    def __init__(self, modules: Optional[Iterable[Module]] = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx: Union[int, slice]) -> Any:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(mods[idx])
        return mods[_norm_index("ModuleList", idx, len(mods))]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(str(_norm_index("ModuleList", idx, len(self))), module)

    def __delitem__(self, idx: Union[int, slice]) -> None:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            del mods[idx]
        else:
            del mods[_norm_index("ModuleList", idx, len(mods))]
        self._modules.clear()
        for i, m in enumerate(mods):
            self._modules[str(i)] = m

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self, *other])

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def __repr__(self) -> str:
        if not self._modules:
            return "ModuleList()"
        return super().__repr__()


class ModuleDict(Module):
    """An ordered dict of modules (string keys), registered as children. Has no ``forward``."""

    def __init__(
        self, modules: Optional[Union[Mapping[str, Module], Iterable[Tuple[str, Module]]]] = None
    ) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict: no module named {key!r}; keys are {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[Tuple[str, Module]]:
        return self._modules.items()

    def clear(self) -> None:
        self._modules.clear()

    def pop(self, key: str) -> Module:
        m = self[key]
        del self._modules[key]
        return m

    def update(
        self, modules: Union[Mapping[str, Module], Iterable[Tuple[str, Module]]]
    ) -> ModuleDict:
        items = modules.items() if isinstance(modules, (Mapping, ModuleDict)) else modules
        for entry in items:
            if not isinstance(entry, (tuple, list)) or len(entry) != 2:
                raise TypeError("ModuleDict.update: expected a mapping or (name, module) pairs")
            self[entry[0]] = entry[1]
        return self


class Identity(Module):
    """Returns its input unchanged (extra constructor arguments are ignored, like PyTorch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class Flatten(Module):
    """Flatten dimensions ``start_dim..end_dim`` into one: (N, C, H, W) -> (N, C*H*W)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``: Unflatten(1, (C, H, W))."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)) or not all(
            isinstance(s, int) for s in unflattened_size
        ):
            raise TypeError(
                f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}"
            )
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        shape = tuple(x.shape)
        nd = len(shape)
        if not -nd <= self.dim < nd:
            raise IndexError(f"Unflatten: dim {self.dim} out of range for input shape {shape}")
        d = self.dim % nd
        sizes = list(self.unflattened_size)
        n_infer = sizes.count(-1)
        known = 1
        for s in sizes:
            if s != -1:
                known *= s
        if (
            n_infer > 1
            or (n_infer == 0 and known != shape[d])
            or (n_infer == 1 and (known == 0 or shape[d] % known))
        ):
            raise ValueError(
                f"Unflatten: cannot split dimension {d} of size {shape[d]} (input {shape}) "
                f"into {self.unflattened_size}"
            )
        return x.reshape(*shape[:d], *sizes, *shape[d + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Flatten dims ``start_dim..end_dim`` of ``x`` (a reshape; differentiable)."""
    shape = tuple(x.shape)
    nd = max(len(shape), 1)
    if not -nd <= start_dim < nd or not -nd <= end_dim < nd:
        raise IndexError(
            f"flatten: start_dim={start_dim}, end_dim={end_dim} out of range for shape {shape}"
        )
    s, e = start_dim % nd, end_dim % nd
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    if len(shape) == 0:
        return x.reshape(1)
    size = 1
    for v in shape[s : e + 1]:
        size *= v
    return x.reshape(*shape[:s], size, *shape[e + 1 :])


def _as_parameter(owner: str, value: Any) -> Any:
    """A Parameter for a Tensor value (PyTorch wraps them), Parameters and None as they are."""
    from .parameter import Parameter

    if value is None or isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value.detach())  # (shares the storage, requires grad, as torch)
    raise TypeError(f"{owner}: values must be Parameters or Tensors, got {type(value).__name__}")


class ParameterList(Module):
    """A list of Parameters registered on the module (Tensors are wrapped as Parameters), so that
    ``parameters()``, ``.to()`` and ``state_dict()`` see them. Has no ``forward``."""

    def __init__(self, values: Optional[Iterable[Any]] = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._parameters.values())

    def __getitem__(self, idx: Union[int, slice]) -> Any:
        params = list(self._parameters.values())
        if isinstance(idx, slice):
            return ParameterList(params[idx])
        return params[_norm_index("ParameterList", idx, len(params))]

    def __setitem__(self, idx: int, value: Any) -> None:
        i = _norm_index("ParameterList", idx, len(self))
        self.register_parameter(str(i), _as_parameter("ParameterList", value))

    def __iadd__(self, values: Iterable[Any]) -> ParameterList:
        return self.extend(values)

    def append(self, value: Any) -> ParameterList:
        self.register_parameter(str(len(self)), _as_parameter("ParameterList", value))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        for v in values:
            self.append(v)
        return self

    def extra_repr(self) -> str:
        return "\n".join(
            f"({k}): Parameter containing: [{type(p).__name__} of size {tuple(p.shape)}]"
            for k, p in self._parameters.items()
        )


class ParameterDict(Module):
    """An ordered dict of Parameters (string keys) registered on the module. Has no ``forward``."""

    def __init__(self, parameters: Optional[Union[Mapping[str, Any], Iterable]] = None) -> None:
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Any:
        if key not in self._parameters:
            raise KeyError(
                f"ParameterDict: no parameter named {key!r}; keys are {list(self._parameters)}"
            )
        return self._parameters[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.register_parameter(key, _as_parameter("ParameterDict", value))

    def __delitem__(self, key: str) -> None:
        del self._parameters[key]

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parameters)

    def __contains__(self, key: object) -> bool:
        return key in self._parameters

    def keys(self) -> Iterable[str]:
        return self._parameters.keys()

    def values(self) -> Iterable[Any]:
        return self._parameters.values()

    def items(self) -> Iterable[Tuple[str, Any]]:
        return self._parameters.items()

    def get(self, key: str, default: Any = None) -> Any:
        return self._parameters.get(key, default)

    def pop(self, key: str) -> Any:
        return self._parameters.pop(key)

    def clear(self) -> None:
        self._parameters.clear()

    def update(self, parameters: Union[Mapping[str, Any], Iterable]) -> None:
        items = parameters.items() if isinstance(parameters, Mapping) else parameters
        for k, v in items:
            self[k] = v

    def extra_repr(self) -> str:
        return "\n".join(
            f"({k}): Parameter containing: [{type(p).__name__} of size {tuple(p.shape)}]"
            for k, p in self._parameters.items()
        )
