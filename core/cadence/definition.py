"""A cadence as a file: the YAML format, its checks (errors in Portuguese naming the step
and the field) and its export. Pure: no database.

```yaml
name: Régua padrão
steps:
  - day: -3
    channels: [email]
    template: lembrete
  - day: 5
    channels: [whatsapp]
    fallback: sms
  - day: 20
    channels: [call]
    when: {score_max: 500, amount_min: 100, states: [SP, RJ], segments: [primeiro_atraso]}
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from core.errors import ValidationFailed
from core.models import StepChannel
from core.scoring.rules import SEGMENTS
from core.zones import ZONE_BY_UF

DAY_MIN, DAY_MAX = -30, 365
TIMELINE_FROM, TIMELINE_TO = -5, 120  # the editor's timeline
DEFAULT_TEMPLATE = "padrao"  # core.channels.templates.DEFAULT_NAME
WRITTEN = (StepChannel.EMAIL, StepChannel.SMS, StepChannel.WHATSAPP, StepChannel.LETTER)
STEP_KEYS = {"day", "channels", "template", "templates", "fallback", "when"}
WHEN_KEYS = {"score_max", "score_min", "amount_min", "amount_max", "states", "segments"}


@dataclass(frozen=True)
class When:
    score_min: int | None = None
    score_max: int | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    states: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("score_min", "score_max"):
            if (value := getattr(self, key)) is not None:
                out[key] = value
        for key in ("amount_min", "amount_max"):
            if (value := getattr(self, key)) is not None:
                out[key] = int(value) if value == value.to_integral_value() else float(value)
        if self.states:
            out["states"] = list(self.states)
        if self.segments:
            out["segments"] = list(self.segments)
        return out


@dataclass(frozen=True)
class Step:
    day: int
    channels: tuple[StepChannel, ...]
    templates: dict[str, str] = field(default_factory=dict)  # channel -> template name
    fallback: StepChannel | None = None
    when: When = When()

    def template_for(self, channel: str) -> str:
        return self.templates.get(channel, DEFAULT_TEMPLATE)


@dataclass(frozen=True)
class Definition:
    name: str
    steps: tuple[Step, ...]


def _where(index: int, raw: Any) -> str:
    day = raw.get("day") if isinstance(raw, dict) else None
    return f"passo {index + 1}" + (f" (dia {day})" if isinstance(day, int) else "")


def _channel(value: Any, where: str, key: str) -> StepChannel:
    try:
        return StepChannel(str(value).strip().lower())
    except ValueError:
        names = ", ".join(c.value for c in StepChannel)
        raise ValidationFailed({key: f"{where}, campo {key.rsplit('.', 1)[-1]}: canal "
                                     f"desconhecido '{value}'; use {names}"}) from None


def _int(value: Any, where: str, key: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed({key: f"{where}, campo {key.rsplit('.', 1)[-1]}: "
                                     f"informe um número inteiro (veio '{value}')"})
    if not low <= value <= high:
        raise ValidationFailed({key: f"{where}, campo {key.rsplit('.', 1)[-1]}: "
                                     f"use um valor entre {low} e {high} (veio {value})"})
    return value


def _amount(value: Any, where: str, key: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = Decimal(-1)
    if isinstance(value, bool) or not amount.is_finite() or amount < 0:
        raise ValidationFailed({key: f"{where}, campo {key.rsplit('.', 1)[-1]}: informe um "
                                     f"valor em reais maior ou igual a zero (veio '{value}')"})
    return amount.quantize(Decimal("0.01"))


def _names(value: Any, where: str, key: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValidationFailed({key: f"{where}, campo {key.rsplit('.', 1)[-1]}: "
                                     "informe uma lista de nomes, ex.: [SP, RJ]"})
    return [v.strip() for v in value]


def _when(raw: Any, where: str, prefix: str) -> When:
    if raw is None:
        return When()
    if not isinstance(raw, dict):
        raise ValidationFailed({prefix: f"{where}, campo when: informe as condições como "
                                        "{score_max: 500, amount_min: 100, ...}"})
    unknown = sorted(set(raw) - WHEN_KEYS)
    if unknown:
        raise ValidationFailed({f"{prefix}.{unknown[0]}": f"{where}, campo when: condição "
                                f"desconhecida '{unknown[0]}'; use "
                                + ", ".join(sorted(WHEN_KEYS))})
    score = {k: _int(raw[k], where, f"{prefix}.{k}", 0, 1000)
             for k in ("score_min", "score_max") if raw.get(k) is not None}
    amount = {k: _amount(raw[k], where, f"{prefix}.{k}")
              for k in ("amount_min", "amount_max") if raw.get(k) is not None}
    if "score_min" in score and "score_max" in score and score["score_min"] > score["score_max"]:
        raise ValidationFailed({f"{prefix}.score_min": f"{where}, campo when.score_min: maior "
                                "que score_max; nenhum devedor atenderia"})
    if ("amount_min" in amount and "amount_max" in amount
            and amount["amount_min"] > amount["amount_max"]):
        raise ValidationFailed({f"{prefix}.amount_min": f"{where}, campo when.amount_min: "
                                "maior que amount_max; nenhum título atenderia"})
    states: list[str] = []
    if raw.get("states") is not None:
        states = [s.upper() for s in _names(raw["states"], where, f"{prefix}.states")]
        wrong = [s for s in states if s not in ZONE_BY_UF]
        if wrong:
            raise ValidationFailed({f"{prefix}.states": f"{where}, campo when.states: UF "
                                    f"desconhecida '{wrong[0]}'; use as 27 siglas (ex.: SP)"})
    segments: list[str] = []
    if raw.get("segments") is not None:
        segments = [v.lower() for v in _names(raw["segments"], where, f"{prefix}.segments")]
        unknown_segments = [v for v in segments if v not in SEGMENTS]
        if unknown_segments:
            raise ValidationFailed({f"{prefix}.segments": f"{where}, campo when.segments: "
                                    f"segmento desconhecido '{unknown_segments[0]}'; use "
                                    + ", ".join(SEGMENTS)})
    return When(score.get("score_min"), score.get("score_max"), amount.get("amount_min"),
                amount.get("amount_max"), tuple(states), tuple(segments))


def _step(index: int, raw: Any) -> Step:
    where = _where(index, raw)
    prefix = f"steps[{index + 1}]"
    if not isinstance(raw, dict):
        raise ValidationFailed({prefix: f"{where}: cada passo é um mapa com day e channels"})
    unknown = sorted(set(raw) - STEP_KEYS)
    if unknown:
        raise ValidationFailed({f"{prefix}.{unknown[0]}": f"{where}: campo desconhecido "
                                f"'{unknown[0]}'; use " + ", ".join(sorted(STEP_KEYS))})
    if "day" not in raw:
        raise ValidationFailed({f"{prefix}.day": f"{where}, campo day: obrigatório (dias a "
                                "partir do vencimento; negativo antes dele)"})
    day = _int(raw["day"], where, f"{prefix}.day", DAY_MIN, DAY_MAX)
    listed = raw.get("channels")
    if isinstance(listed, str):
        listed = [listed]
    if not isinstance(listed, list) or not listed:
        raise ValidationFailed({f"{prefix}.channels": f"{where}, campo channels: informe ao "
                                "menos um canal, ex.: [email, sms]"})
    channels = tuple(_channel(c, where, f"{prefix}.channels") for c in listed)
    if len(set(channels)) != len(channels):
        raise ValidationFailed({f"{prefix}.channels": f"{where}, campo channels: canal "
                                "repetido"})
    templates: dict[str, str] = {}
    if raw.get("template") is not None:
        if not isinstance(raw["template"], str) or not raw["template"].strip():
            raise ValidationFailed({f"{prefix}.template": f"{where}, campo template: informe "
                                    "o nome de um modelo de mensagem"})
        templates = {c.value: raw["template"].strip() for c in channels if c in WRITTEN}
    if raw.get("templates") is not None:
        given = raw["templates"]
        if not isinstance(given, dict):
            raise ValidationFailed({f"{prefix}.templates": f"{where}, campo templates: "
                                    "informe {canal: modelo}"})
        for key, name in given.items():
            channel = _channel(key, where, f"{prefix}.templates")
            if channel not in channels and channel != raw.get("fallback"):
                raise ValidationFailed({f"{prefix}.templates": f"{where}, campo templates: "
                                        f"o canal '{channel}' não está no passo"})
            if not isinstance(name, str) or not name.strip():
                raise ValidationFailed({f"{prefix}.templates": f"{where}, campo templates: "
                                        f"informe o nome do modelo de '{channel}'"})
            templates[channel.value] = name.strip()
    for named in list(templates):
        if StepChannel(named) not in WRITTEN:
            raise ValidationFailed({f"{prefix}.templates": f"{where}, campo templates: "
                                    f"'{named}' não usa modelo de mensagem"})
    fallback = None
    if raw.get("fallback") is not None:
        fallback = _channel(raw["fallback"], where, f"{prefix}.fallback")
        if fallback in channels:
            raise ValidationFailed({f"{prefix}.fallback": f"{where}, campo fallback: o canal "
                                    "alternativo deve ser diferente dos canais do passo"})
        if fallback is StepChannel.TASK:
            raise ValidationFailed({f"{prefix}.fallback": f"{where}, campo fallback: uma "
                                    "tarefa não é canal alternativo"})
    return Step(day, channels, templates, fallback, _when(raw.get("when"), where,
                                                           f"{prefix}.when"))


def parse(text: str) -> Definition:
    """A cadence from its YAML; ValidationFailed naming the step and field otherwise."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (linha {mark.line + 1})" if mark is not None else ""
        raise ValidationFailed({"arquivo": f"YAML inválido{where}"}) from None
    return from_data(raw)


def from_data(raw: Any) -> Definition:
    if not isinstance(raw, dict):
        raise ValidationFailed({"arquivo": "a régua é um mapa com name e steps"})
    unknown = sorted(set(raw) - {"name", "steps"})
    if unknown:
        raise ValidationFailed({unknown[0]: f"campo desconhecido '{unknown[0]}'; use name e "
                                "steps"})
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed({"name": "informe o nome da régua (name)"})
    if len(name.strip()) > 100:
        raise ValidationFailed({"name": "use no máximo 100 caracteres no nome"})
    steps = raw.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ValidationFailed({"steps": "informe ao menos um passo (steps)"})
    parsed = tuple(_step(i, s) for i, s in enumerate(steps))
    seen: set[tuple[int, str]] = set()
    for i, step in enumerate(parsed):
        for channel in step.channels:
            if (step.day, channel) in seen:
                raise ValidationFailed({f"steps[{i + 1}].channels": f"passo {i + 1} (dia "
                                        f"{step.day}), campo channels: '{channel}' já está "
                                        f"em outro passo do mesmo dia"})
            seen.add((step.day, channel))
    return Definition(name.strip(), tuple(sorted(parsed, key=lambda s: s.day)))


def to_data(definition: Definition) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    for step in definition.steps:
        out: dict[str, Any] = {"day": step.day, "channels": [c.value for c in step.channels]}
        names = set(step.templates.values())
        written = [c for c in step.channels if c in WRITTEN]
        if (len(names) == 1 and set(step.templates) == {c.value for c in written}):
            out["template"] = names.pop()
        elif step.templates:
            out["templates"] = dict(step.templates)
        if step.fallback is not None:
            out["fallback"] = step.fallback.value
        if when := step.when.as_dict():
            out["when"] = when
        steps.append(out)
    return {"name": definition.name, "steps": steps}


def dump(definition: Definition) -> str:
    return yaml.safe_dump(to_data(definition), allow_unicode=True, sort_keys=False,
                          default_flow_style=None)
