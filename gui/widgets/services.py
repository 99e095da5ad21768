"""Dashboard row: how Certbench is connected (IoT Central, Sectigo, registry), and demo mode."""

from __future__ import annotations

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QWidget

from certbench.core.dashboard import ServiceState
from certbench.gui.widgets.status import StatusLabel

SERVICES = ("iotcentral", "sectigo", "registry")


class ServicesPanel(QGroupBox):
    def __init__(self, demo: bool, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Connections"), parent)
        self.setObjectName("servicesPanel")
        layout = QHBoxLayout(self)
        self.names = {"iotcentral": self.tr("IoT Central"), "sectigo": self.tr("Sectigo"), "registry": self.tr("Registry")}
        self.status: dict[str, StatusLabel] = {}
        for service in SERVICES:
            label = StatusLabel("pending", f"{self.names[service]}: …")
            label.setObjectName(f"service_{service}")
            self.status[service] = label
            layout.addWidget(label, 1)
        self.demo_label: QLabel | None = None
        if demo:
            self.demo_label = QLabel(self.tr("DEMO"))
            self.demo_label.setObjectName("servicesDemo")
            self.demo_label.setStyleSheet(
                "background: #ef6c00; color: white; font-weight: bold; padding: 3px 10px; border-radius: 3px;"
            )
            self.demo_label.setToolTip(self.tr("Demo mode: emulated services, throw-away data."))
            layout.addWidget(self.demo_label)

    def set_states(self, states: list[ServiceState]) -> None:
        for state in states:
            name = self.names[state.service]
            if state.configured:
                text = (self.tr("{name}: {summary} (not tested)") if state.used else
                        self.tr("{name}: {summary} (not used: no intermediate comes from Sectigo)"))
                self.status[state.service].set_state(
                    "pending", text.format(name=name, summary=state.summary),
                    (state.detail + "\n" if state.detail else "") + self.tr("Bench > Check connections tests it."),
                )
            else:
                missing = ", ".join(state.missing)
                self.status[state.service].set_state(
                    "warning" if state.used else "pending", self.tr("{name}: {summary}").format(name=name, summary=state.summary),
                    self.tr("Missing: {missing}").format(missing=missing) if missing else "",
                )

    def set_checked(self, service: str, ok: bool, text: str) -> None:
        """`text`: what the test said (on failure: the message, then the hint on the next line)."""
        name = self.names[service]
        if ok:
            self.status[service].set_state("ok", self.tr("{name}: connected").format(name=name), text)
        else:
            message = text.split("\n", 1)[0]
            self.status[service].set_state(
                "fail", self.tr("{name}: failed. {message}").format(name=name, message=message), text)

    def set_checking(self, service: str) -> None:
        self.status[service].set_state("pending", self.tr("{name}: checking…").format(name=self.names[service]))
