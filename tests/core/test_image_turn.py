"""An image turn end to end: prepared from a real file, sent by the engine over the
real SDK, accepted by the built-in server, answered honestly by the offline responder,
remembered by reference."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from tests.support.conversation import conversation, realtime_server, settings_for
from voice_tui.core.conversation import Role
from voice_tui.core.events import AssistantFinal, ImageSent, TurnCompleted
from voice_tui.core.images import prepare_image
from voice_tui.offline.responder_builtin import BuiltinResponder


async def test_an_image_then_a_question_gets_an_honest_answer(tmp_path: Path) -> None:
    path = tmp_path / "plan.png"
    Image.new("RGB", (3000, 1500), "navy").save(path)
    image = prepare_image(str(path), max_side=1024)
    async with realtime_server(BuiltinResponder()) as server:
        settings = settings_for(server, [], mcp=[])
        async with conversation(server, settings) as c:
            await c.engine.send_image(image)
            sent = await c.events.wait_for(ImageSent)
            assert sent.description == image.describe()
            assert sent.description.startswith("plan.png, 1024×512, ")
            assert sent.description.endswith(" (scaled from 3000×1500)")
            await c.engine.send_text("what is in this picture")
            answer = await c.events.wait_for(AssistantFinal)
            assert answer.text.startswith("I received your image, but I can't see images")
    turns = [t for t in c.engine.conversation if t.role is Role.USER]
    shown = turns[0]
    assert shown.image is not None and shown.image.path == str(path)
    assert (shown.image.width, shown.image.height) == (1024, 512)
    journaled = json.dumps(shown.to_json())
    assert "base64" not in journaled and len(journaled) < 1000  # a reference, not bytes
    assert c.events.of(TurnCompleted)[0].turn.image == shown.image
