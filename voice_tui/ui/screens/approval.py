"""Asking before a tool runs: the tool, its server, its arguments in full, and three
answers (allow once, allow for this session, deny)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from voice_tui.core.approval import ApprovalRequest, Decision, describe_arguments


class ApprovalScreen(ModalScreen[Decision]):
    DEFAULT_CSS = """
    ApprovalScreen { align: center middle; }
    ApprovalScreen > Vertical { width: 80; max-width: 95%; height: auto; max-height: 90%;
                                padding: 1 2; background: $surface; border: thick $warning; }
    ApprovalScreen #question { margin-bottom: 1; }
    ApprovalScreen #arguments { height: auto; max-height: 16; background: $panel;
                                padding: 0 1; margin-bottom: 1; }
    ApprovalScreen Horizontal { height: auto; align-horizontal: right; }
    ApprovalScreen Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "answer('allow_once')", "Allow once", id="approval_once"),
        Binding("s", "answer('allow_session')", "Allow for this session", id="approval_session"),
        Binding("d,escape", "answer('deny')", "Deny", id="approval_deny"),
    ]

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        r = self.request
        where = "the Realtime service calls" if r.remote else "voice-tui runs"
        question = Text.assemble(
            "The assistant wants to use ",
            (r.tool, "bold"),
            " of the MCP server ",
            (r.server, "bold"),
            f" ({where} it), with these arguments:",
        )
        with Vertical():
            yield Static(question, id="question")
            with VerticalScroll(id="arguments"):
                # Text, not markup: arguments are whatever the model wrote.
                yield Static(Text(describe_arguments(r.arguments)))
            with Horizontal():
                yield Button("Deny (d)", id="deny", variant="error")
                yield Button("Allow for this session (s)", id="allow_session")
                yield Button("Allow once (o)", id="allow_once", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#deny", Button).focus()  # a stray Enter must not run anything

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(Decision(event.button.id or "deny"))

    def action_answer(self, answer: str) -> None:
        self.dismiss(Decision(answer))
