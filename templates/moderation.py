"""Moderation before a render: every text a version draws or says and every prompt it gives a model, checked
by the configured `Moderator` (templates/moderator.py; REELSMITH_MODERATOR) against the workspace's policy.

- A version's fixed texts are checked when it is saved (`moderation_template_check`): the literal words of
  each text and prompt (merge fields left out) and the defaults of the variables they use.
- A recipient's values are checked before credits are reserved (`moderation_values_check`, from
  render.services.requests) and when a campaign's recipients are imported (`VersionModeration`, from
  campaigns.recipients): each value a text uses on its own, named `variables.<name>`, then each text with the
  values merged in, named by its spec path, for what only the merged text says (a word across a value and
  the words around it, or a word the workspace blocked after the version was saved).

Negative prompts are not checked: they name what a model should keep out of a picture ("nudity, gore"),
so refusing their words would refuse the safety they ask for. Errors name the path and the rule, never a
list's words, and not the word found either (it is the caller's own text; echoing it would put a slur in
error logs, results.csv and webhooks).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from adspec.vocabulary import MERGE_FIELD
from core.errors import ApplicationError
from core.models import Workspace
from templates.merge import merge
from templates.models import TemplateVersion
from templates.moderator import Flag, ModerationPolicy, ModerationText, Moderator, TextKind
from templates.selectors import moderation_lists_get

MODERATION_REFUSED = "Refused by moderation: a text, prompt or value uses a blocked word."
REFUSED_BY = "Refused by moderation ({rule})."
REFUSED_IN = "Refused by moderation ({rule}) in {path}, with this row's values."


@functools.cache
def moderator() -> Moderator:
    """The configured moderator, made once per process (REELSMITH_MODERATOR: a class or factory path)."""
    path = settings.REELSMITH_MODERATOR
    try:
        factory = import_string(path)
        made = factory()
    except Exception as exc:
        raise ImproperlyConfigured(f"REELSMITH_MODERATOR={path!r} cannot be loaded: {exc}") from exc
    if not callable(getattr(made, "check", None)):
        raise ImproperlyConfigured(f"REELSMITH_MODERATOR={path!r} has no check(texts, policy) method")
    return made


def moderation_policy(*, workspace: Workspace) -> ModerationPolicy:
    found = moderation_lists_get(workspace=workspace)
    return ModerationPolicy(
        languages=tuple(found.languages), block=tuple(found.block), allow=tuple(found.allow)
    )


def spec_texts(spec: dict[str, Any]) -> Iterator[tuple[str, str, TextKind]]:
    """(path, text, kind) of every text a (valid) spec draws or says and every prompt it gives a model."""
    for index, scene in enumerate(spec.get("scenes", [])):
        path = f"spec.scenes[{index}]"
        generate = scene.get("background", {}).get("generate")
        if isinstance(generate, dict):
            yield f"{path}.background.generate.prompt", generate["prompt"], "prompt"
            base = generate.get("base")
            if isinstance(base, dict):
                yield f"{path}.background.generate.base.prompt", base["prompt"], "prompt"
        voice = scene.get("voice")
        if isinstance(voice, dict):  # subtitles draw the same line
            yield f"{path}.voice.text", voice["text"], "voice"
        for layer_index, layer in enumerate(scene.get("layers", [])):
            if layer.get("type") == "text":  # headlines, body text and call-to-action labels alike
                yield f"{path}.layers[{layer_index}].text", layer["text"], "text"
    cta = spec.get("cta")
    if isinstance(cta, dict) and isinstance(cta.get("label"), str):  # the watch page's button
        yield "spec.cta.label", cta["label"], "text"


def _errors(flags: list[Flag], key: str, message: str = REFUSED_BY, **extra: str) -> dict[str, list[str]]:
    rules = list(dict.fromkeys(flag.rule for flag in flags))
    return {key: [message.format(rule=rule, **extra) for rule in rules]} if rules else {}


class VersionModeration:
    """The moderation of one version's texts for one workspace, prepared once for many recipients."""

    def __init__(self, *, workspace: Workspace, spec: dict[str, Any], declared: dict[str, Any]) -> None:
        self.policy = moderation_policy(workspace=workspace)
        self.moderator = moderator()
        self.texts = list(spec_texts(spec))
        used = dict.fromkeys(name for _, text, _ in self.texts for name in MERGE_FIELD.findall(text))
        # Text variables only: an image variable's value is a URL, fetched, never drawn.
        self.variables = [name for name in used if declared.get(name, {}).get("type", "text") == "text"]
        self.declared = declared
        self._literal: list[list[Flag]] | None = None

    def _check(self, texts: list[ModerationText]) -> list[list[Flag]]:
        return self.moderator.check(texts, self.policy) if texts else []

    def literal_flags(self) -> list[list[Flag]]:
        """Flags of each text's own words (merge fields left out), per text."""
        if self._literal is None:
            self._literal = self._check(
                [ModerationText(path, MERGE_FIELD.sub(" ", text), kind) for path, text, kind in self.texts]
            )
        return self._literal

    def template_errors(self) -> dict[str, list[str]]:
        """The version's fixed texts: its texts' own words and the defaults of the variables they use."""
        errors: dict[str, list[str]] = {}
        for (path, _, _), flags in zip(self.texts, self.literal_flags(), strict=True):
            errors.update(_errors(flags, path))
        defaults = [
            ModerationText(f"spec.variables.{name}.default", self.declared[name]["default"], "value")
            for name in self.variables
            if self.declared[name].get("default")
        ]
        for item, flags in zip(defaults, self._check(defaults), strict=True):
            errors.update(_errors(flags, item.path))
        return errors

    def values_errors(
        self, values: dict[str, str], *, path: str = "variables", row: bool = False
    ) -> dict[str, list[str]]:
        """A recipient's values (`path.<name>`), then each text merged with them (its spec path). For an
        imported `row`, a merged text is the row's fault only for what the version's own words do not
        already say (those are refused when it renders), and is named by the row's `path`."""
        names = [name for name in self.variables if values.get(name)]
        merged = [merge(text, values) for _, text, _ in self.texts]
        flags = self._check(
            [ModerationText(f"{path}.{name}", values[name], "value") for name in names]
            + [ModerationText(p, text, kind) for (p, _, kind), text in zip(self.texts, merged, strict=True)]
        )
        by_name = dict(zip(names, flags[: len(names)], strict=True))
        errors: dict[str, list[str]] = {}
        for name, found in by_name.items():
            errors.update(_errors(found, f"{path}.{name}"))
        literal = self.literal_flags() if row else [[] for _ in self.texts]
        for index, ((spec_path, text, _), found) in enumerate(
            zip(self.texts, flags[len(names) :], strict=True)
        ):
            # A flag a value of this text already raised is that value's; one the text's own words raise,
            # a row is not refused for.
            brought = {
                (flag.rule, flag.term)
                for name in dict.fromkeys(MERGE_FIELD.findall(text))
                for flag in by_name.get(name, [])
            }
            brought |= {(flag.rule, flag.term) for flag in literal[index]}
            left = [flag for flag in found if (flag.rule, flag.term) not in brought]
            if row:
                for key, messages in _errors(left, path, REFUSED_IN, path=spec_path).items():
                    errors.setdefault(key, []).extend(messages)
            else:
                errors.update(_errors(left, spec_path))
        return errors


def moderation_template_check(
    *, workspace: Workspace, spec: dict[str, Any], declared: dict[str, Any]
) -> None:
    """400 naming each fixed text of a (valid) spec that the workspace's moderation refuses."""
    errors = VersionModeration(workspace=workspace, spec=spec, declared=declared).template_errors()
    if errors:
        raise ApplicationError(MODERATION_REFUSED, fields=errors)


def moderation_values_check(
    *, workspace: Workspace, template_version: TemplateVersion, values: dict[str, str]
) -> None:
    """400 naming each value (`variables.<name>`) or merged text (its spec path) moderation refuses."""
    errors = VersionModeration(
        workspace=workspace, spec=template_version.spec, declared=template_version.variables
    ).values_errors(values)
    if errors:
        raise ApplicationError(MODERATION_REFUSED, fields=errors)
