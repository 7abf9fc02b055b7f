"""The second, explicit step before a change: say what will change, then Confirm or Cancel.

`ConfirmBox.ask(message, on_confirm, on_cancel)` shows the message (the change's plan, e.g.
"Roll back (...): traffic: netra-backend-staging-00002-abc 100% -> ...-00001-xyz 100%.
Confirm?") with a Confirm and a Cancel button, and hides itself at the first click: each
question is answered once, by exactly one of the two callbacks. `dismiss()` withdraws the
question unanswered (the environment was switched, the panel closed).
"""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as widgets

from netra_ops.ui.marks import WARN

__all__ = ["ConfirmBox"]

Callback = Callable[[], None]


class ConfirmBox:
    """A hidden box that asks one question at a time."""

    def __init__(self) -> None:
        self.message = widgets.HTML("")
        self.message.add_class("netra-ops-confirm-message")
        self.confirm = widgets.Button(description="Confirm", button_style="danger",
                                      icon="check", tooltip="make the change described")
        self.confirm.add_class("netra-ops-confirm-yes")
        self.cancel = widgets.Button(description="Cancel", icon="times",
                                     tooltip="change nothing")
        self.cancel.add_class("netra-ops-confirm-no")
        self.box = widgets.VBox([self.message, widgets.HBox([self.confirm, self.cancel])],
                                layout=widgets.Layout(display="none", border="2px solid #bf8700",
                                                      padding="6px"))
        self.box.add_class("netra-ops-confirm")
        self._answers: tuple[Callback, Callback] | None = None
        self.confirm.on_click(lambda _button: self._answer(0))
        self.cancel.on_click(lambda _button: self._answer(1))

    @property
    def asking(self) -> bool:
        """True while a question waits for its answer."""
        return self._answers is not None

    def ask(self, message: str, on_confirm: Callback, on_cancel: Callback) -> None:
        """Show `message` and wait for Confirm (`on_confirm`) or Cancel (`on_cancel`)."""
        self._answers = (on_confirm, on_cancel)
        self.message.value = f"<b>{WARN} {html.escape(message)}</b>"
        self.box.layout.display = "flex"

    def dismiss(self) -> None:
        """Withdraw the question: hidden, and neither callback will run."""
        self._answers = None
        self.box.layout.display = "none"
        self.message.value = ""

    def _answer(self, which: int) -> None:
        answers = self._answers
        self.dismiss()
        if answers is not None:
            answers[which]()
