"""Training state as data: a JSON tree plus a flat dict of tensors, and back, without running code.

``encode`` turns a tree of plain values (None, bool, int, float, str, list, tuple, dict, set),
numpy arrays and scalars, tensors, ``RandomState`` generators, modules (their ``state_dict``) and
instances of the data classes in ``DATA_CLASSES`` into JSON-able values; tensors and array bytes go
to ``tensors`` under ``"t<n>"`` keys. ``decode`` rebuilds it: arrays from bytes with a checked,
non-object dtype, modules as state dicts loaded into the module the caller already has (or into a
copy of ``template``), data classes by filling ``__dict__`` of a bare instance. No constructor,
``__setstate__`` or other code named by the file runs; an unknown tag is refused.
"""
import copy

import numpy as np
import torch
from skorch.history import History

from ..errors import ConfigError
from ..hooks.ema import EMAAverager
from ..pretext import PoolIndex

DATA_CLASSES = {cls.__name__: cls for cls in (EMAAverager, PoolIndex)}


class StateFormatError(ConfigError):
    """A checkpoint's content is not the data this version writes."""


def encode(value, tensors):
    """``value`` as a JSON-able tree; tensors (and array bytes) are added to the dict ``tensors``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        return {"__scalar__": value.dtype.str, "value": value.item()}
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, torch.Tensor):
        return {"__tensor__": _add(tensors, value.detach().to("cpu", copy=True))}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError("object arrays are not data")
        raw = torch.frombuffer(bytearray(np.ascontiguousarray(value).tobytes()), dtype=torch.uint8)
        return {"__array__": _add(tensors, raw), "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, np.dtype):
        return {"__dtype__": value.str}
    if isinstance(value, np.random.RandomState):
        return {"__random_state__": encode(value.get_state(), tensors)}
    if isinstance(value, torch.nn.Module):
        return {"__module__": encode(dict(value.state_dict()), tensors)}
    if isinstance(value, History):
        return {"__history__": [encode(entry, tensors) for entry in value]}
    if isinstance(value, list):
        return [encode(v, tensors) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, tensors) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"__set__": [encode(v, tensors) for v in sorted(value, key=repr)]}
    if isinstance(value, dict):
        return {"__dict__": [[encode(k, tensors), encode(v, tensors)] for k, v in value.items()]}
    if type(value).__name__ in DATA_CLASSES and type(value) is DATA_CLASSES[type(value).__name__]:
        return {"__object__": type(value).__name__, "state": encode(vars(value), tensors)}
    raise TypeError(f"a checkpoint holds data only; {type(value).__name__} is not")


def _add(tensors, tensor):
    key = f"t{len(tensors)}"
    tensors[key] = tensor
    return key


def decode(tree, tensors, current=None, template=None):
    """The value ``tree`` encodes. A module is loaded into ``current`` when that is a module, else
    into a frozen copy of ``template``; raises :class:`StateFormatError` on anything malformed."""
    try:
        return _decode(tree, tensors, current, template)
    except StateFormatError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError, AttributeError) as exc:
        raise StateFormatError(f"malformed state ({type(exc).__name__}: {exc})") from None


def _decode(tree, tensors, current, template):
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    if isinstance(tree, list):
        return [_decode(v, tensors, None, template) for v in tree]
    if not isinstance(tree, dict) or len(tree) == 0:
        raise StateFormatError(f"unexpected {type(tree).__name__} in the state")
    tag = next(iter(tree))
    if tag == "__scalar__":
        return _dtype(tree["__scalar__"]).type(tree["value"])
    if tag == "__tensor__":
        return _tensor(tensors, tree["__tensor__"])
    if tag == "__array__":
        dtype, shape = _dtype(tree["dtype"]), tuple(int(n) for n in tree["shape"])
        raw = _tensor(tensors, tree["__array__"])
        return np.frombuffer(raw.numpy().tobytes(), dtype=dtype).reshape(shape).copy()
    if tag == "__dtype__":
        return _dtype(tree["__dtype__"])
    if tag == "__random_state__":
        rng = np.random.RandomState()
        rng.set_state(_decode(tree["__random_state__"], tensors, None, template))
        return rng
    if tag == "__module__":
        state = _decode(tree["__module__"], tensors, None, template)
        if isinstance(current, torch.nn.Module):
            current.load_state_dict(state)
            return current
        if template is None:
            raise StateFormatError("a module in the state has no module to load into")
        module = copy.deepcopy(template).requires_grad_(False)
        module.load_state_dict(state)
        return module
    if tag == "__history__":
        return History([_decode(v, tensors, None, template) for v in tree["__history__"]])
    if tag == "__tuple__":
        return tuple(_decode(v, tensors, None, template) for v in tree["__tuple__"])
    if tag == "__set__":
        return {_decode(v, tensors, None, template) for v in tree["__set__"]}
    if tag == "__dict__":
        return {_decode(k, tensors, None, template): _decode(v, tensors, None, template) for k, v in tree["__dict__"]}
    if tag == "__object__":
        cls = DATA_CLASSES.get(tree["__object__"])
        if cls is None:
            raise StateFormatError(f"unknown object type {tree['__object__']!r} in the state")
        obj = current if type(current) is cls else cls.__new__(cls)
        for key, value in tree["state"]["__dict__"]:
            if not isinstance(key, str) or not key.isidentifier() or key.startswith("__"):
                raise StateFormatError(f"attribute {key!r} is not a plain attribute name")
            setattr(obj, key, _decode(value, tensors, getattr(obj, key, None), template))
        return obj
    raise StateFormatError(f"unknown tag {tag!r} in the state")


def restore_attributes(obj, tree, tensors, template=None):
    """Set on ``obj`` the attributes of an encoded ``vars()`` dict ``tree``; a module held by ``obj``
    is loaded in place. Raises :class:`StateFormatError` on anything malformed."""
    try:
        pairs = tree["__dict__"]
        for key, value in pairs:
            if not isinstance(key, str) or not key.endswith("_"):
                raise StateFormatError(f"attribute {key!r}: only fitted attributes (name_) are restored")
            setattr(obj, key, _decode(value, tensors, getattr(obj, key, None), template))
    except StateFormatError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError, AttributeError) as exc:
        raise StateFormatError(f"malformed state ({type(exc).__name__}: {exc})") from None


def _tensor(tensors, key):
    tensor = tensors.get(key) if isinstance(key, str) else None
    if not isinstance(tensor, torch.Tensor):
        raise StateFormatError(f"the state names a tensor {key!r} the file does not hold")
    return tensor


def _dtype(text):
    dtype = np.dtype(str(text))
    if dtype.hasobject:
        raise StateFormatError("object arrays are not data")
    return dtype
