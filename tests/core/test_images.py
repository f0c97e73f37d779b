"""Preparing images for the conversation: real files made with Pillow, real decoding."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from voice_tui.core.images import ImageError, prepare_image


def save(path: Path, image: Image.Image, kind: str, **options: object) -> Path:
    image.save(path, format=kind, **options)
    return path


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_small_png_is_sent_as_it_is(tmp_path: Path) -> None:
    path = save(tmp_path / "dot.png", Image.new("RGB", (40, 30), "red"), "PNG")
    image = prepare_image(str(path), max_side=2048)
    assert image.data == path.read_bytes()
    assert image.mime_type == "image/png"
    assert (image.width, image.height, image.scaled) == (40, 30, False)
    assert (
        image.data_url() == "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
    )
    assert image.describe() == f"dot.png, 40×30, {len(image.data)} B"


def test_a_large_photo_is_scaled_down_and_sent_as_jpeg(tmp_path: Path) -> None:
    photo = Image.effect_noise((3000, 2000), 60).convert("RGB")
    path = save(tmp_path / "photo.jpg", photo, "JPEG", quality=95)
    image = prepare_image(str(path), max_side=1024)
    assert (image.width, image.height) == (1024, 683)
    assert image.mime_type == "image/jpeg"
    assert decoded(image.data).size == (1024, 683)
    assert len(image.data) < image.original_bytes
    assert image.describe().startswith("photo.jpg, 1024×683, ")
    assert image.describe().endswith(" (scaled from 3000×2000)")


def test_webp_with_transparency_becomes_png_and_gif_its_first_frame(tmp_path: Path) -> None:
    clear = Image.new("RGBA", (20, 20), (0, 0, 255, 0))
    webp = prepare_image(str(save(tmp_path / "a.webp", clear, "WEBP", lossless=True)), 2048)
    assert webp.mime_type == "image/png"
    assert decoded(webp.data).getpixel((0, 0))[3] == 0  # still transparent
    frames = [Image.new("P", (10, 10), i) for i in (1, 2, 3)]
    gif_path = tmp_path / "anim.gif"
    frames[0].save(gif_path, save_all=True, append_images=frames[1:])
    gif = prepare_image(str(gif_path), 2048)
    assert gif.mime_type in ("image/jpeg", "image/png") and (gif.width, gif.height) == (10, 10)


def test_the_home_directory_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    save(tmp_path / "me.jpeg", Image.new("RGB", (8, 8), "white"), "JPEG")
    assert prepare_image(" ~/me.jpeg ", 2048).path == tmp_path / "me.jpeg"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.png", "missing.png: no such file."),
        (lambda d: d, "is a folder, not an image."),
        (lambda d: _write(d / "empty.png", b""), "empty.png is empty."),
        (lambda d: _write(d / "notes.png", b"just some text\n" * 10), "notes.png is not an image"),
        (
            lambda d: save(d / "old.bmp", Image.new("RGB", (4, 4)), "BMP"),
            "old.bmp is a BMP image; send a PNG, JPEG, WebP or GIF file.",
        ),
        (
            lambda d: _write(d / "cut.png", _png_bytes()[:60]),
            "cut.png is damaged or incomplete",
        ),
    ],
)
def test_bad_files_get_a_clear_message(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ImageError) as caught:
        prepare_image(str(make(tmp_path)), 2048)
    assert message in str(caught.value)


def test_an_empty_path_asks_which_image() -> None:
    with pytest.raises(ImageError, match=r"Which image\?"):
        prepare_image("  ", 2048)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 50).save(buffer, format="PNG")
    return buffer.getvalue()
