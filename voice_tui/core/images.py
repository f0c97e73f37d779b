"""Images attached to the conversation: checked, scaled down, encoded as the API wants.

The Realtime API reads PNG and JPEG as a data URL in an `input_image` content part.
Any PNG, JPEG, WebP or GIF file is accepted: it is decoded with Pillow (which is also
the check that it is what it claims), scaled so its longer side is at most
`max_side`, and sent as PNG when it has transparency, else as JPEG. A file that is
already small enough PNG or JPEG is sent as it is. Bad files raise ImageError with a
message for the user; nothing is sent then.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

SUPPORTED_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
SENT_AS_IS = {"PNG", "JPEG"}
MAX_FILE_BYTES = 50 * 1024 * 1024  # beyond this, not an image anyone means to send
MAX_PIXELS = 100_000_000  # Pillow's decompression-bomb guard, made an error
JPEG_QUALITY = 85
_ORIENTATION = 0x0112  # the EXIF tag


class ImageError(Exception):
    """The file cannot be sent as an image; the message says why, in plain words."""


@dataclass(frozen=True, slots=True)
class PreparedImage:
    path: Path  # as the user named it, ~ expanded
    mime_type: str  # "image/png" or "image/jpeg": what is sent
    data: bytes  # the encoded image that is sent
    width: int
    height: int
    original_width: int
    original_height: int
    original_bytes: int

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def scaled(self) -> bool:
        return (self.width, self.height) != (self.original_width, self.original_height)

    def data_url(self) -> str:
        return f"data:{self.mime_type};base64,{base64.b64encode(self.data).decode('ascii')}"

    def describe(self) -> str:
        """`photo.jpg, 1024×768, 181 KB (scaled from 4032×3024)` for the transcript."""
        size = f"{self.width}×{self.height}, {format_bytes(len(self.data))}"
        if self.scaled:
            size += f" (scaled from {self.original_width}×{self.original_height})"
        return f"{self.name}, {size}"


def format_bytes(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.0f} KB"
    return f"{count / (1024 * 1024):.1f} MB"


def prepare_image(path_text: str, max_side: int) -> PreparedImage:
    """Read and prepare the image at `path_text` (`~` expanded); raises ImageError."""
    text = path_text.strip().strip("'\"")
    if not text:
        raise ImageError("Which image? Give the path of a PNG, JPEG, WebP or GIF file.")
    path = Path(text).expanduser()
    return prepare_image_bytes(_read(path), path, max_side)


def prepare_image_bytes(raw: bytes, path: Path, max_side: int) -> PreparedImage:
    """The same for an image already in memory (e.g. an MCP tool's result); `path`
    names it in messages."""
    try:
        with Image.open(io.BytesIO(raw)) as opened:
            kind = opened.format or ""
            if kind not in SUPPORTED_FORMATS:
                raise ImageError(
                    f"{path.name} is a {kind or 'unknown'} image; "
                    "send a PNG, JPEG, WebP or GIF file."
                )
            if opened.width * opened.height > MAX_PIXELS:
                raise ImageError(
                    f"{path.name} is {opened.width}×{opened.height} pixels, too large to open."
                )
            opened.seek(0)  # the first frame of an animation
            turned = opened.getexif().get(_ORIENTATION, 1) not in (0, 1)
            # A copy (loaded), turned the way the camera was held.
            image = ImageOps.exif_transpose(opened)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(
            f"{path.name} is not an image voice-tui can read (PNG, JPEG, WebP or GIF)."
        ) from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{path.name} is damaged or incomplete ({exc}).") from None
    original = (image.width, image.height)
    if max(original) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    unchanged = (image.width, image.height) == original
    if unchanged and kind in SENT_AS_IS and not turned:
        mime, data = SUPPORTED_FORMATS[kind], raw
    else:
        mime, data = _encode(image)
    return PreparedImage(
        path=path,
        mime_type=mime,
        data=data,
        width=image.width,
        height=image.height,
        original_width=original[0],
        original_height=original[1],
        original_bytes=len(raw),
    )


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise ImageError(f"{path} is a folder, not an image.")
        if size == 0:
            raise ImageError(f"{path.name} is empty.")
        if size > MAX_FILE_BYTES:
            raise ImageError(
                f"{path.name} is {format_bytes(size)}; images over "
                f"{format_bytes(MAX_FILE_BYTES)} are not sent."
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file.") from None
    except PermissionError:
        raise ImageError(f"{path}: permission denied.") from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot read it ({exc.strerror or exc}).") from None


def _encode(image: Image.Image) -> tuple[str, bytes]:
    """PNG where transparency must survive, else JPEG (much smaller for photos)."""
    buffer = io.BytesIO()
    transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if transparent:
        image.convert("RGBA").save(buffer, format="PNG", optimize=True)
        return "image/png", buffer.getvalue()
    image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return "image/jpeg", buffer.getvalue()
